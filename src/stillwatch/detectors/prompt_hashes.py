"""Identical prompts across accounts, by hash: the shared-frames detector for hash-only logs.

Many providers and gateways log a prompt's SHA-256 and not its text. Then frames and MinHash
cannot run, yet one fact still shows: the same prompt, word for word, sent from several
accounts. An operator's accounts share many of its prompts (one task list fanned out over the
pool, retries from another account, the same seed prompts for each run); unrelated customers
share a prompt now and then (a popular question, a pasted tutorial), one or two, not dozens.

Only the opening prompt of each conversation counts (``turn_index`` 0; where turns are not
logged, each conversation's first exchange; an exchange with neither is its own opening): a
follow-up ("continue", "make it shorter") is the least specific text there is, and its token
count includes the conversation before it. Each account's ``per_account`` distinct opening
prompts first by a hash of the prompt hash are paired (holders are counted over all), so the
work grows with the accounts, not the traffic. How much one shared prompt is worth:

- *how many accounts send it*: ``1 / log2(1 + holders)``, as for frames, so a prompt two
  accounts send weighs 0.63 and one sent by a hundred 0.15; held by more than ``max_holders``
  accounts (a greeting, a benchmark item every harness runs) it is the language's, worth 0;
- *how long it is*: times ``ramp(input tokens, min_tokens, full_tokens)`` over the shortest
  exchange that carries it (where token counts are logged), because two strangers type the
  same five words far more often than the same five hundred.

A pair of accounts is tied by ``1 − Π(1 − w)`` over the prompts both send (each counted once),
when they send at least ``min_shared`` of the same prompts (1: on development seeds, 2 lost
more of the campaigns than the look-alikes it kept out): many shared prompts tie firmly, one
faintly, and the clustering asks for many such ties. An account's score is the share of its
distinct opening prompts that another account also sends, ramped from 0.2 to 0.7 (as for
frames), once it has sent ``min_prompts`` of them.

It reads the exchanges whose prompt text is absent, or every exchange when
``content.shared-frames`` did not run this scan (hashing the text itself where a log keeps
the text but not its hash, as OpenAI's request logs do): where the text is kept, frames see
every identical prompt (an identical prompt fills the same frame) and templates whose slots
differ, so a store with text adds no tie here, and a store mixing text and hash-only sources
gets both.

Known false positives: an app or evaluation harness that sends the same fixed prompts from
several of its own accounts (one organization: the infrastructure and account evidence name
it); classmates pasting the same assignment.
"""

from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pandas as pd

from stillwatch.detectors.base import (
    DetectorOutput,
    LinkCandidate,
    LinkColumns,
    ScanContext,
    check_param,
    connection,
    ramp,
    temp_table,
)
from stillwatch.detectors.content import FrameHoldings
from stillwatch.features.codes import distinct


class SharedPrompts:
    id = "prompts.shared-hashes"
    version = "1"
    family = "prompt-hashes"
    requires = ("exchanges.prompt_sha256|exchanges.prompt",)
    # where this ran, prompts with text are its to read
    text_reader = "content.shared-frames"
    evidence_keys = ("share", "prompts", "max_sharing_accounts")
    description = "the same prompts, word for word (by hash), sent from several accounts"
    false_positives = (
        "one organization's apps or harnesses sending fixed prompts from several accounts"
    )
    max_holders = 200
    max_group = 50
    neighbours = 5
    top_k = 20

    def __init__(
        self, min_prompts: int = 10, min_tokens: int = 8, full_tokens: int = 40,
        min_shared: int = 1, per_account: int = 200,
    ) -> None:  # fmt: skip
        check_param("min_prompts", min_prompts, 1, 1e6, integer=True)
        check_param("per_account", per_account, 1, 1e6, integer=True)
        check_param("min_shared", min_shared, 1, 1e6, integer=True)
        check_param("min_tokens", min_tokens, 0, 1e6, integer=True)
        check_param("full_tokens", full_tokens, 1, 1e6, integer=True)
        if full_tokens <= min_tokens:
            raise ValueError(
                f"full_tokens must exceed min_tokens; got {full_tokens} <= {min_tokens}"
            )
        self.min_prompts = min_prompts
        self.min_tokens = min_tokens
        self.full_tokens = full_tokens
        self.min_shared = min_shared
        self.per_account = per_account

    def run(self, ctx: ScanContext) -> DetectorOutput:
        out = DetectorOutput()
        con = connection(ctx)
        ex = ctx.sources.exchanges
        if self.text_reader in ctx.ran:
            ex = ex.filter(ex.prompt.isnull())
        else:  # the schema's hash is SHA-256 of the text: a log keeping only the text has it too
            ex = ex.mutate(prompt_sha256=ex.prompt_sha256.coalesce(ex.prompt.hexdigest("sha256")))
        ex = ex.filter(ex.prompt_sha256.notnull())
        # opening prompts: turn 0; where turns are not logged, a conversation's first exchange
        unknown = ex.filter(ex.turn_index.isnull())
        w = ibis.window(group_by=unknown.conversation_id, order_by=[unknown.ts, unknown.event_id])
        unknown = unknown.mutate(first=ibis.row_number().over(w) == 0)
        unknown = unknown.filter(unknown.conversation_id.isnull() | unknown["first"])
        cols = ["account_id", "prompt_sha256", "input_tokens"]
        opening = ex.filter(ex.turn_index == 0).select(cols).union(unknown.select(cols))
        held = opening.group_by(["account_id", "prompt_sha256"]).aggregate(
            tokens=opening.input_tokens.min()
        )
        name = temp_table(ctx, "_sw_prompt_hashes", held)
        try:
            return self._from_table(con, name, out)
        finally:
            con.execute(f"DROP TABLE IF EXISTS {name}")

    def _from_table(self, con: Any, name: str, out: DetectorOutput) -> DetectorOutput:
        tables = {part: f"{name}_{part}" for part in ("prompts", "shared", "counts", "codes")}
        try:
            self._shared(con, name, tables)
            self._scores(con, tables, out)
            self._codes(con, name, tables)
            out.links = self._links(con, tables["codes"])
        finally:
            for table in tables.values():
                con.execute(f"DROP TABLE IF EXISTS {table}")
        return out

    def _shared(self, con: Any, name: str, tables: dict[str, str]) -> None:
        """The shared prompts (held by 2 to ``max_holders`` accounts, of some length) with
        their holders and length, their holdings, and each account's count of distinct
        opening prompts: every holding read once for the holders, once for the counts, and
        probed once against the shared prompts (a few percent of all)."""
        # where token counts are not logged, length says nothing: full weight
        length = (
            f"least(1.0, greatest(0.0, (coalesce(min(tokens), {self.full_tokens}) - "
            f"{self.min_tokens}) / {self.full_tokens - self.min_tokens}))"
        )
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {tables["prompts"]} AS
            SELECT prompt_sha256, count(*) AS holders, {length} AS length FROM {name}
            GROUP BY prompt_sha256 HAVING count(*) BETWEEN 2 AND {self.max_holders} AND {length} > 0
            """
        )
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {tables["shared"]} AS
            SELECT h.account_id, h.prompt_sha256, k.holders, k.length
            FROM {name} h JOIN {tables["prompts"]} k USING (prompt_sha256)
            """
        )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {tables['counts']} AS "
            f"SELECT account_id, count(*) AS prompts FROM {name} GROUP BY account_id"
        )

    def _scores(self, con: Any, tables: dict[str, str], out: DetectorOutput) -> None:
        """Each account that shares a prompt and sent ``min_prompts``: the share of its
        prompts shared, ramped."""
        rows = con.execute(
            f"""
            SELECT account_id, c.prompts, s.shared, s.widest
            FROM (
                SELECT account_id, count(*) AS shared, max(holders) AS widest
                FROM {tables["shared"]} GROUP BY account_id
            ) s JOIN {tables["counts"]} c USING (account_id)
            WHERE c.prompts >= {int(self.min_prompts)} ORDER BY account_id
            """
        ).fetchall()
        shares = [shared_n / n for _, n, shared_n, _ in rows]
        for (account, n, _, widest), share, score in zip(
            rows, shares, ramp(np.array(shares, float), 0.2, 0.7).tolist(), strict=True
        ):
            out.add(str(account), score, {
                "share": round(share, 3), "prompts": int(n),
                "max_sharing_accounts": int(widest or 0)})  # fmt: skip

    def _codes(self, con: Any, name: str, tables: dict[str, str]) -> None:
        """The shared holdings paired, coded by the store (accounts and prompts numbered in id
        order, each distinct value once: no Python string per holding, millions of them at
        the large scale). An account keeps its ``per_account`` prompts first by a hash of the
        prompt hash, counted over all its prompts, shared or not; only the accounts holding
        more are ranked, to find the last they keep (most hold fewer and keep all)."""
        per_account = int(self.per_account)
        # cut: the last prompt kept (h, s) by an account holding more than per_account (an
        # account holds a prompt once, so the order is strict: it keeps those up to the cut)
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {tables["codes"]} AS
            WITH cut AS (
                SELECT account_id, hash(prompt_sha256) AS h, prompt_sha256 AS s FROM {name}
                WHERE account_id IN (
                    SELECT account_id FROM {tables["counts"]} WHERE prompts > {per_account}
                )
                QUALIFY row_number() OVER (
                    PARTITION BY account_id ORDER BY hash(prompt_sha256), prompt_sha256
                ) = {per_account}
            ),
            held AS MATERIALIZED (
                SELECT k.account_id, k.prompt_sha256, k.length / log2(1 + k.holders) AS weight
                FROM {tables["shared"]} k LEFT JOIN cut c USING (account_id)
                WHERE c.h IS NULL OR hash(k.prompt_sha256) < c.h
                    OR (hash(k.prompt_sha256) = c.h AND k.prompt_sha256 <= c.s)
            ),
            accounts AS (
                SELECT account_id, row_number() OVER (ORDER BY account_id) - 1 AS row
                FROM (SELECT DISTINCT account_id FROM held)
            ),
            cols AS (
                SELECT prompt_sha256, row_number() OVER (ORDER BY prompt_sha256) - 1 AS col
                FROM (SELECT DISTINCT prompt_sha256 FROM held)
            )
            SELECT a.row, c.col, h.weight, h.account_id, h.prompt_sha256
            FROM held h JOIN accounts a USING (account_id) JOIN cols c USING (prompt_sha256)
            """
        )

    def _links(self, con: Any, codes: str) -> list[LinkCandidate] | LinkColumns:
        held = con.execute(f"SELECT row, col, weight FROM {codes} ORDER BY col, row").fetchnumpy()
        if not len(held["row"]):
            return []
        accounts = pd.Index(
            [a for (a,) in con.execute(
                f"SELECT any_value(account_id) FROM {codes} GROUP BY row ORDER BY row"
            ).fetchall()]
        )  # fmt: skip

        def name_of(cols: np.ndarray) -> np.ndarray:
            wanted = pd.DataFrame({"col": distinct(cols)})
            con.register("_sw_prompt_cols", wanted)
            try:
                named = con.execute(
                    f"SELECT col, any_value(prompt_sha256) AS name FROM {codes} "
                    "SEMI JOIN _sw_prompt_cols USING (col) GROUP BY col ORDER BY col"
                ).fetchnumpy()
            finally:
                con.unregister("_sw_prompt_cols")
            return np.asarray(named["name"], dtype=object)[np.searchsorted(named["col"], cols)]

        return FrameHoldings.from_codes(
            held["row"], held["col"], held["weight"], accounts, int(held["col"].max()) + 1, name_of
        ).links(
            self.id, "prompt", self.max_group, self.neighbours, self.top_k,
            lambda f, n, w: {"value": f.astype("U16"), "prompts": n, "weight": w},
            self.min_shared,
        )  # fmt: skip
