"""How big a campaign is: its exchanges (not its accounts' total), with intervals.

A hydra account carries resold legitimate traffic beside the campaign's, so a campaign's
exchanges are found by classifying each exchange inside its member accounts. Each exchange
falls into a **cell** of metadata every log has (no prompt text needed) that comes from what
the person or program behind it does: the depth of its conversation, the output/input token
ratio, tool definitions. The accounts outside every campaign give the cells' legitimate
distribution ``L``; the members' exchanges are a mixture ``M = π·C + (1 − π)·L`` of campaign
traffic ``C`` and legitimate traffic like everyone else's. Request parameters that a reseller's
gateway sets for everything it forwards (its end-user ids, extended thinking, the output cap)
are not in the cell: resold customers' traffic differs there from the provider's direct
customers for the gateway's reasons, which broke the mixture's premise (on `proxy-mixed`
seed 1 every resold exchange named an end user, few direct ones did, and the resold half was
counted as the campaign's: +82%; without them, +5%).

- **Mixture proportion** (the share ``1 − π`` of legitimate traffic inside the members): the
  smallest ratio ``F_M / F_L`` over the cells ordered by how legitimate they look, among cell
  sets holding at least ``MIN_LEGIT_MASS`` of the legitimate traffic (the estimator of Scott,
  Blanchard and Handy, 2013, "irreducibility": somewhere campaign traffic is absent). A
  share under ``MIN_LEGIT_SHARE`` is read as none.
- **Per exchange** confidence that it serves the campaign: ``1 − (1 − π)·L(cell)/M(cell)``,
  clipped to [0, 1]; ``campaign_exchanges`` keeps those at ≥ 0.5.
- **Estimate**: the sum of confidences. **Interval**: the classifier re-estimated on
  bootstrap resamples of the member accounts (``rounds``) and applied to the members' actual
  exchanges, its 5th and 95th percentiles, widened by the exchanges of members in doubt (the
  accounts interval: a member in doubt takes its exchanges with it).

**Where the members' prompts hold the campaign's frames** (the signals stage's frame mining;
needs prompt text), the text separates what the metadata cannot: a frame is the operator's
template, so a member conversation holding one of the campaign's own frames (held by at least
``MIN_FRAME_MEMBERS`` of its members, with at least ``MIN_MEMBER_HOLDERS`` of its holders
members of reported campaigns: not a phrase of the language nor a template popular with
ordinary customers, which resold customers use too; common frames included, since a campaign
larger than frame mining's ``common_share`` of the accounts makes its own frames common)
serves the campaign and the rest is resold. The mixture's
premise, that resold traffic is shaped like the provider's other customers', fails where a
reseller's customers converse deeper than the provider's direct ones (`proxy-mixed`
development seeds 10–19: their single-turn share 14–17% against 33–40%; the mixture's
exchanges +25% over on seed 15, the frames' within 2.1% on all ten; medium seed 3 −4.9% →
−0.2%). Used only where the
mixture finds legitimate traffic at all (a campaign without resold traffic keeps all its
exchanges: an operator that rewords its prompts leaves conversations without a frame, and
those would be lost) and where the frames mark at least ``MIN_FRAMED_SHARE`` of what the
mixture counts (else the frames cover too little of the campaign to stand for it). Each
exchange of a marked conversation has confidence 1, the rest 0; the interval is the
``mixture_margin`` of the resold count either way, as for the mixture.

Known limits: resold traffic that looks nothing like the provider's other customers (one
niche app resold whole) is counted as campaign traffic where no frames mark the campaign;
campaign traffic shaped exactly like ordinary chat is counted as resold; a resold customer's
conversation that uses one of the campaign's frames is counted as the campaign's, and an operator that rewords its templates inside
resold traffic is undercounted by the conversations it reworded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from stillwatch.detectors.content import content_module
from stillwatch.detectors.prompts import FRAME_HOLDERS, is_kept
from stillwatch.engine.store import Store

MIN_LEGIT_MASS = 0.1
MIN_LEGIT_SHARE = 0.02
# A campaign's own frame is held by this many of its members (frame mining's own minimum).
MIN_FRAME_MEMBERS = 3
# ...and at least this share of its holders are members of reported campaigns.
MIN_MEMBER_HOLDERS = 0.5
MIN_FRAMED_SHARE = 0.5
FRAMED, UNFRAMED = "|f1", "|f0"

_DEPTH_SQL = """CASE WHEN {} THEN 'c?'
           WHEN depth = 1 THEN 'c1' WHEN depth <= 3 THEN 'c3' WHEN depth <= 7 THEN 'c7'
           ELSE 'c8' END"""
_RATIO_SQL = """CASE WHEN output_tokens IS NULL OR coalesce(input_tokens, 0) = 0 THEN 'r?'
           WHEN output_tokens < 0.5 * input_tokens THEN 'r0'
           WHEN output_tokens < 2 * input_tokens THEN 'r1'
           WHEN output_tokens < 8 * input_tokens THEN 'r2' ELSE 'r3' END"""
_TOOLS_SQL = "CASE WHEN coalesce(tools_count, 0) > 0 THEN 'x1' ELSE 'x0' END"
CELL_SQL = (
    f"concat_ws('|', {_DEPTH_SQL.format('conversation_id IS NULL')}, {_RATIO_SQL}, {_TOOLS_SQL})"
)


def exchange_cells(store: Store, members: str, carry: tuple[str, ...] = ()) -> pd.Series:
    """``_sw_cells`` (a temp table): the event id, account, day, cell and ``carry`` columns of
    every exchange of the accounts in table ``members`` (column ``account_id``). Returns the
    exchange counts per cell of every other account: the legitimate distribution ``L``.

    A conversation's depth is counted by a 64-bit hash of (account, conversation): grouping
    fixed-width numbers, not two strings, and no table of every exchange's event id (52
    million at the large scale; the members' are what the campaign's exchanges are drawn
    from). Two of ten million conversations share a hash about once in 400,000 scans, and
    then only their depth bucket errs."""
    extra = "".join(f", {c}" for c in carry)
    # The members' conversations' depths grouped by hash and joined to their exchanges, in
    # place of a window over every member exchange with its columns (large store, CPU: 45 s -> 32).
    member_rows = f"FROM exchanges SEMI JOIN {members} USING (account_id)"
    store.con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _sw_cells AS
        WITH depths AS (
            SELECT hash(account_id, conversation_id) AS h, count(*) AS depth
            {member_rows} GROUP BY h
        )
        SELECT event_id, account_id, CAST(ts AS DATE) AS day, {CELL_SQL} AS cell{extra}
        FROM (SELECT event_id, account_id, conversation_id, ts, input_tokens, output_tokens,
                     tools_count{extra}, hash(account_id, conversation_id) AS h {member_rows})
        JOIN depths USING (h)
        """
    )
    # The others' exchanges only as counts: grouped by conversation (its hash), ratio and tools
    # first, each conversation's depth the sum of its groups' counts, in place of a window over
    # every exchange (large store: 28 s -> 12 s; the same counts).
    grouped = (
        "SELECT hash(account_id, conversation_id) AS h, conversation_id IS NULL AS unthreaded, "
        f"{_RATIO_SQL} AS r, {_TOOLS_SQL} AS x, count(*) AS n "
        f"FROM exchanges ANTI JOIN {members} USING (account_id) GROUP BY ALL"
    )
    return (
        store.con.execute(
            f"SELECT concat_ws('|', {_DEPTH_SQL.format('unthreaded')}, r, x) AS cell, "
            "CAST(sum(n) AS BIGINT) AS n "
            f"FROM (SELECT *, sum(n) OVER (PARTITION BY h) AS depth FROM ({grouped})) "
            "GROUP BY ALL ORDER BY cell"
        )
        .df()
        .set_index("cell")
        .n
    )


@dataclass(frozen=True)
class MixtureEstimate:
    legit_share: float  # 1 - π
    confidence: dict[str, float]  # cell → confidence an exchange there is the campaign's


def mixture(member: pd.Series, legit: pd.Series) -> MixtureEstimate:
    """``member`` / ``legit``: exchange counts per cell."""
    cells = member.index.union(legit.index)
    m = member.reindex(cells, fill_value=0).to_numpy(dtype=float)
    lg = legit.reindex(cells, fill_value=0).to_numpy(dtype=float)
    if m.sum() == 0:
        return MixtureEstimate(0.0, {})
    pm = (m + 0.01) / (m.sum() + 0.01 * len(cells))
    pl = (lg + 0.5) / (lg.sum() + 0.5 * len(cells))
    ratio = pm / pl
    order = np.argsort(ratio, kind="stable")
    fm = np.cumsum(m[order]) / m.sum()
    fl = np.cumsum(lg[order]) / max(lg.sum(), 1.0)
    ok = fl >= MIN_LEGIT_MASS
    share = float(np.min(fm[ok] / fl[ok])) if ok.any() else 0.0
    share = min(share, 1.0)
    if share < MIN_LEGIT_SHARE:
        share = 0.0
    conf = np.clip(1 - share / ratio, 0.0, 1.0)
    return MixtureEstimate(share, dict(zip(cells.tolist(), conf.tolist(), strict=True)))


def bootstrap_exchanges(
    per_account: pd.DataFrame, legit: pd.Series, rounds: int, seed: int
) -> tuple[float, float, float]:
    """``per_account``: account × cell exchange counts of one campaign's members. Returns the
    estimate and the 5th and 95th percentiles of it when the classifier (the mixture share
    and the cells' confidences) is re-estimated on resamples of the member accounts and
    applied to the members' actual exchanges: the members' own total is known, what is
    uncertain is which of their exchanges serve the campaign."""
    total = per_account.sum(axis=0)
    point = _estimate(total, total, legit)
    if rounds <= 0 or len(per_account) < 2:
        return point, point, point
    rng = np.random.default_rng(seed)
    values = per_account.to_numpy(dtype=float)
    n = len(values)
    out = []
    for _ in range(rounds):
        weights = np.bincount(rng.integers(0, n, n), minlength=n)
        sample = pd.Series(weights @ values, index=per_account.columns)
        out.append(_estimate(sample, total, legit))
    return point, float(np.percentile(out, 5)), float(np.percentile(out, 95))


def _estimate(sample: pd.Series, total: pd.Series, legit: pd.Series) -> float:
    """The classifier fitted on ``sample``'s cell counts, applied to ``total``'s."""
    return counted(mixture(sample, legit), total)


def counted(est: MixtureEstimate, total: pd.Series) -> float:
    """The exchanges among ``total`` (counts per cell) that ``est`` counts as the campaign's."""
    conf = pd.Series(est.confidence).reindex(total.index, fill_value=1.0)
    return float((total * conf).sum())


def framed_split(matrix: pd.DataFrame) -> MixtureEstimate:
    """The split by frames of a campaign whose ``matrix`` (account × cell) has its cells
    marked (:func:`mark_cells`): a framed cell is the campaign's, an unframed one resold."""
    total = float(matrix.to_numpy().sum())
    cells = [str(c) for c in matrix.columns]
    framed = float(matrix[[c for c in cells if c.endswith(FRAMED)]].to_numpy().sum())
    return MixtureEstimate(
        1.0 - framed / total if total else 0.0,
        {c: 1.0 if c.endswith(FRAMED) else 0.0 for c in cells},
    )


def framed_exchanges(store: Store, campaigns: list[int]) -> dict[int, int]:
    """Temp table ``_sw_framed`` (``event_id``): the exchanges of members of ``campaigns``
    (``_sw_members.c``) in a conversation with a prompt holding one of its campaign's own
    frames. Returns their count per campaign; empty when no frames were kept (no prompt text,
    content analysis not installed or the frames detector not run)."""
    con = store.con
    frames = content_module("frames")
    if not campaigns or frames is None or not is_kept(con, FRAME_HOLDERS):
        return {}
    chosen = ", ".join(str(int(c)) for c in campaigns)
    temps = ("_sw_size_members", "_sw_size_frames", "_sw_size_src", "_sw_size_sk",
             "_sw_framed_conv")  # fmt: skip
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _sw_size_members AS "
            f"SELECT account_id, c FROM _sw_members WHERE c IN ({chosen})"
        )
        # a frame at least half of whose holders are campaign members (of any reported
        # campaign): not a phrase of the language, nor a template popular with ordinary
        # customers
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _sw_size_frames AS
            WITH held AS (
                SELECT h.kind, h.frame FROM {FRAME_HOLDERS} h LEFT JOIN _sw_members m
                USING (account_id) GROUP BY ALL
                HAVING count(m.account_id) >= {MIN_MEMBER_HOLDERS} * count(*)
            )
            SELECT m.c, h.kind, h.frame FROM {FRAME_HOLDERS} h SEMI JOIN held USING (kind, frame)
            JOIN _sw_size_members m USING (account_id)
            GROUP BY ALL HAVING count(*) >= {MIN_FRAME_MEMBERS}
            """
        )
        conversation = "coalesce(e.conversation_id, 'exchange:' || e.event_id)"
        # every prompt of the members of a campaign with frames (the holders above were read
        # from a sample of each account's prompts: any member may hold them), numbered as read
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _sw_size_src AS
            SELECT e.account_id, e.prompt, {conversation} AS conversation,
                   row_number() OVER () AS rid
            FROM exchanges e JOIN _sw_size_members m USING (account_id)
            WHERE e.prompt IS NOT NULL AND m.c IN (SELECT c FROM _sw_size_frames)
            """
        )
        frames.skeleton_table(con, "_sw_size_src", "_sw_size_sk", ("conversation",),
                              rid="rid", text=False)  # fmt: skip
        con.execute("DROP TABLE _sw_size_src")
        # each prompt's keys matched as they are made (a member prompt has four or so)
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _sw_framed_conv AS
            SELECT DISTINCT s.account_id, s.conversation
            FROM ({frames.frame_keys_select("_sw_size_sk")}) k JOIN _sw_size_sk s USING (rid)
            JOIN _sw_size_members m USING (account_id)
            SEMI JOIN _sw_size_frames f ON f.c = m.c AND f.kind = k.kind AND f.frame = k.frame
            """
        )
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _sw_framed AS
            SELECT e.event_id FROM (
                SELECT event_id, account_id, conversation_id FROM exchanges
                SEMI JOIN _sw_size_members USING (account_id)
            ) e JOIN _sw_framed_conv f
              ON f.account_id = e.account_id AND f.conversation = {conversation}
            """
        )
        rows = con.execute(
            "SELECT m.c, count(*) FROM _sw_framed JOIN _sw_cells USING (event_id) "
            "JOIN _sw_size_members m USING (account_id) GROUP BY ALL"
        ).fetchall()
        return {int(c): int(n) for c, n in rows}
    finally:
        for t in temps:
            con.execute(f"DROP TABLE IF EXISTS {t}")


def mark_cells(store: Store, campaigns: list[int]) -> None:
    """Append ``FRAMED`` or ``UNFRAMED`` to the cell of each exchange of ``campaigns``'
    members in ``_sw_cells`` (by ``_sw_framed``)."""
    chosen = ", ".join(str(int(c)) for c in campaigns)
    store.con.execute(
        f"UPDATE _sw_cells SET cell = cell || CASE WHEN event_id IN "
        f"(SELECT event_id FROM _sw_framed) THEN '{FRAMED}' ELSE '{UNFRAMED}' END "
        f"WHERE account_id IN (SELECT account_id FROM _sw_members WHERE c IN ({chosen}))"
    )
