"""One scan's campaigns, from the account graph to the tables (``docs/campaigns.md``).

1. **Cluster** the account graph (``links``) with Leiden/CPM; join parts whose mutual owned
   ties are as strong as their own (:func:`merge_parts`); split each cluster into the
   communities of its owned ties (:func:`split_by_owned`), join again, and make one again the
   parts tied to the rest of their cluster taken together (:func:`rejoin_siblings`); trim
   weakly tied members.
2. **Judge** each cluster as a whole (``judge.py``) and compare its score with the operating
   point of the permutation null model (``null.py``); honour the casebook's allowlist and use
   analysts' dismissals as known negatives.
3. **Size** each reported campaign: its exchanges by classifying the members' exchanges
   (``size.py``), accounts, first and last day, each with an interval; the capabilities,
   infrastructure, keys and end users carrying it.
4. **Attribute** campaigns to operators (``attribution.py``) and give every campaign and
   operator the id it had in the previous scan (``identity.py``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from stillwatch.campaigns.attribution import bridges, operator_groups
from stillwatch.campaigns.cluster import (
    NamedValues,
    join_alike,
    leiden_cpm,
    merge_parts,
    rejoin_siblings,
    split_by_owned,
)
from stillwatch.campaigns.identity import carry_ids, digest_id
from stillwatch.campaigns.judge import (
    ACCOUNT_FAMILIES,
    JudgeSettings,
    attach_outer,
    baseline_shares,
    cluster_scores,
    coordination_of,
    established,
    federated_share,
    internal_strength,
    kind_bits,
    kind_factor,
    member_facts,
    own_customers,
    stray_phrases,
    tie_kinds,
    trim,
)
from stillwatch.campaigns.null import null_threshold
from stillwatch.campaigns.size import (
    MIN_FRAMED_SHARE,
    bootstrap_exchanges,
    counted,
    exchange_cells,
    framed_exchanges,
    framed_split,
    mark_cells,
    mixture,
)
from stillwatch.campaigns.usage import prompt_shares
from stillwatch.engine.memory import stage_peak_mb
from stillwatch.engine.store import Store, query_arrow
from stillwatch.link.graph import POOL_TYPES, edges_and_owned_values

# Dismissed accounts count as known negatives once analysts have dismissed this many.
MIN_DISMISSED = 20
# A candidate cluster is kept (status ``candidate``) at this score or more.
CANDIDATE_MIN_SCORE = 0.25
# A member tied less firmly than this is in doubt (the low end of the accounts interval).
CORE_MEMBERSHIP = 0.75
# An account outside, tied to a campaign this strongly, is in doubt (the high end).
NEAR_STRENGTH = 2.0
# ... or tied to it by owned ties worth one certain tie, most of its owned ties anywhere.
NEAR_OWNED = 1.0
# Owned edges this strong or more hold a cluster together when it is split by owned ties.
SPLIT_TIE = 0.25
# Rounds of joining parts to the larger part they are firmly tied to, at most (each round
# settles chains already; rounds stop as soon as one changes nothing).
MERGE_ROUNDS = 10
# Two parts whose owned-value profiles have this cosine or more are one (``join_alike``).
ALIKE_SIMILARITY = 0.5
# An exchange is written to ``campaign_exchanges`` at this confidence or more.
EXCHANGE_CONFIDENCE = 0.5


@dataclass(frozen=True)
class CampaignSettings:
    resolution: float = 0.02
    # passes of Leiden's optimiser (0: until a pass no longer improves it); chosen by the recorded
    # sweep in docs/campaigns.md §2 (medium hydra-loud dev 1: 105 s until stable, 9.3 s)
    leiden_iterations: int = 2
    merge_ratio: float = 0.5
    trim_strength: float = 0.5
    # an account outside every cluster joins a reported campaign when this share of its owned
    # ties or more go to the campaign's members (and they name enough distinct values)
    outer_share: float = 0.6
    # ... or, with less owned weight (judge.ACCOUNT_TIE) naming two independent values, when
    # its account-profile facts score this much or more (1: never)
    outer_account: float = 0.5
    min_accounts: int = 3
    target_fpr: float = 0.0001
    min_score: float = 0.45
    null_rounds: int = 200
    bootstrap_rounds: int = 200
    attribution_ratio: float = 0.2
    # calibrated by `stillwatch bench intervals` on development seeds 3-12 (docs/campaigns.md)
    unseen_share: float = 0.02
    mixture_margin: float = 0.06
    seed: int = 11

    @classmethod
    def from_settings(cls, s: Mapping[str, Any]) -> CampaignSettings:
        return cls(
            resolution=float(s.get("campaign_resolution", cls.resolution)),
            leiden_iterations=int(s.get("campaign_leiden_iterations", cls.leiden_iterations)),
            merge_ratio=float(s.get("campaign_merge_ratio", cls.merge_ratio)),
            attribution_ratio=float(s.get("campaign_attribution_ratio", cls.attribution_ratio)),
            trim_strength=float(s.get("campaign_trim_strength", cls.trim_strength)),
            outer_share=float(s.get("campaign_outer_share", cls.outer_share)),
            outer_account=float(s.get("campaign_outer_account", cls.outer_account)),
            min_accounts=int(s.get("campaign_min_accounts", cls.min_accounts)),
            target_fpr=float(s.get("campaign_target_fpr", cls.target_fpr)),
            min_score=float(s.get("campaign_min_score", cls.min_score)),
            null_rounds=int(s.get("campaign_null_rounds", cls.null_rounds)),
            bootstrap_rounds=int(s.get("campaign_bootstrap_rounds", cls.bootstrap_rounds)),
            unseen_share=float(s.get("campaign_unseen_share", cls.unseen_share)),
            mixture_margin=float(s.get("campaign_mixture_margin", cls.mixture_margin)),
        )


@dataclass(frozen=True)
class AnalystInput:
    """What people decided (the casebook), as the scan needs it."""

    allowlisted_accounts: frozenset[str] = frozenset()
    dismissed_accounts: frozenset[str] = frozenset()


@dataclass
class CampaignResult:
    reported: int = 0
    candidates: int = 0
    operators: int = 0
    threshold: dict[str, Any] = field(default_factory=dict)
    member_of: dict[str, tuple[str, float, float]] = field(default_factory=dict)  # id, m, score
    seconds: dict[str, float] = field(default_factory=dict)
    # resident high-water marks in MB: leiden, cluster (after it), size; the scan adds the rest
    peak_mb: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _compact(labels: np.ndarray) -> tuple[np.ndarray, int]:
    out = np.full(len(labels), -1, dtype=np.int64)
    inside = labels >= 0
    if not inside.any():
        return out, 0
    uniq, inv = np.unique(labels[inside], return_inverse=True)
    out[inside] = inv
    return out, len(uniq)


def account_table(store: Store, scan_id: str) -> pd.DataFrame:
    """Every scored account with its own score and family scores."""
    # the families ``member_facts`` reads, each a column where any account has it, read from
    # the JSON by the store (1.16 million accounts at the large scale: no Python dict each)
    read = list(dict.fromkeys((*ACCOUNT_FAMILIES, "account-profile")))
    picks = ", ".join(
        f'CAST(json_extract(family_scores, \'$."{f}"\') AS DOUBLE) AS "{f}"' for f in read
    )
    df = store.con.execute(
        f"SELECT account_id, score, {picks} FROM account_scores WHERE scan_id = ? "
        "ORDER BY account_id",
        [scan_id],
    ).df()
    present = [f for f in read if df[f].notna().any()]
    fam = df[present].set_index(df.account_id)
    signals = store.con.execute(
        "SELECT account_id, detector, score FROM signals WHERE scan_id = ?", [scan_id]
    ).df()
    detectors = (
        signals.pivot_table(index="account_id", columns="detector", values="score", aggfunc="max")
        if len(signals)
        else pd.DataFrame(index=pd.Index([], name="account_id"))
    )
    facts = member_facts(fam, detectors)
    facts["own_score"] = df.score.to_numpy()
    return facts


def account_group_measured(store: Store, scan_id: str) -> bool:
    """Whether an account-group detector ran in this scan: each account's ``group_scores``
    name the groups measured (none of the account group without an accounts table or an
    enforcements table)."""
    return bool(
        store.scalar(
            "SELECT count(*) FROM account_scores WHERE scan_id = ? "
            "AND json_extract(group_scores, '$.account') IS NOT NULL",
            [scan_id],
        )
    )


def _population(store: Store, scan_id: str, accounts: pd.DataFrame) -> pd.DataFrame:
    """Every scored account: its facts (``account_table``), whether it is verified, whether it
    is enforced (banned or suspended, not reinstated), its organization, and the shares the
    harvest lift reads (``judge.LIFT_SHARES``: token shapes from its features, prompt shares
    from ``usage.prompt_shares``)."""
    features = store.con.execute(
        "SELECT f.account_id, f.verified, f.enforced, a.org_name, exchanges, thinking_share, "
        "max_cap_share, epoch(f.created_at) / 3600.0 AS registered_hour "
        "FROM account_features f LEFT JOIN accounts a USING (account_id) "
        "WHERE f.scan_id = ? ORDER BY f.account_id",
        [scan_id],
    ).df()
    shares = prompt_shares(store)[["account_id", "elicitation_share", "targeted_share"]]
    out = accounts.reset_index(names="account_id").merge(features, on="account_id", how="left")
    return out.merge(shares, on="account_id", how="left")


def find_campaigns(
    store: Store,
    scan_id: str,
    settings: Mapping[str, Any],
    analyst: AnalystInput | None = None,
) -> CampaignResult:
    """Cluster, judge, size, attribute and write this scan's campaigns."""
    import time

    cs = CampaignSettings.from_settings(settings)
    js = JudgeSettings(cs.trim_strength, 2.0, cs.min_accounts)
    analyst = analyst or AnalystInput()
    result = CampaignResult()
    t0 = time.perf_counter()
    accounts = account_table(store, scan_id)
    edges, rows = edges_and_owned_values(store, scan_id)
    named = NamedValues.from_rows(rows.edge.to_numpy(), rows.key, rows.weight.to_numpy(),
                                  len(edges))  # fmt: skip
    del rows
    allow = analyst.allowlisted_accounts
    if allow:
        kept = (~edges.a.isin(allow) & ~edges.b.isin(allow)).to_numpy()
        edges = edges[kept].reset_index(drop=True)
        named = named.subset(kept)
    # the ids as a NumPy array of str once (iterating pandas' Arrow strings cost 7 s at large)
    ids_a, ids_b = edges.a.to_numpy(dtype=object), edges.b.to_numpy(dtype=object)
    nodes = np.array(sorted(set(ids_a) | set(ids_b)), dtype=object)
    index = pd.Index(nodes)
    a = index.get_indexer(ids_a)
    b = index.get_indexer(ids_b)
    del ids_a, ids_b
    w = edges.weight.to_numpy(dtype=float)
    # each distinct tuple of link types read once (a few hundred among millions of edges)
    type_codes, type_sets = pd.factorize(edges.link_types)
    owned = np.array([any(t not in POOL_TYPES for t in ts) for ts in type_sets],
                     dtype=bool)[type_codes]  # fmt: skip
    t1 = time.perf_counter()
    # the graph by node index (the same edges in the same order; no lookup of 3.8 million ids)
    by_index = pd.DataFrame({"a": a, "b": b, "weight": edges.weight.to_numpy()})
    labels = leiden_cpm(np.arange(len(nodes)), by_index, cs.resolution, cs.seed,
                        cs.leiden_iterations)  # fmt: skip
    del by_index
    result.seconds["leiden"] = time.perf_counter() - t1
    result.peak_mb["leiden"] = stage_peak_mb()
    # what the operator's own kinds of tie weigh on each edge (a proxy range shared on top of
    # one faint phrase is not a firm owned tie)
    ow = edges.owned_weight.to_numpy(dtype=float)
    labels = merge_parts(labels, a, b, ow, owned, cs.merge_ratio, cs.min_accounts, named,
                         js.owned_strength)  # fmt: skip
    kinds_of_edge = kind_bits(list(type_sets), POOL_TYPES)[type_codes]
    graph = _Graph(a, b, w, ow, owned, named, kinds_of_edge)
    labels = _join_and_trim(labels, graph, cs, js)
    # Once more, over the trimmed clusters: the trim takes out members that bridged two parts
    # when they were joined, and the parts stay joined without them. `proxy-mixed` medium,
    # development seed 3: a round of joining brought in a part of resold customers holding 5
    # accounts of an abuse ring, the next joined the ring's 89 other accounts to those 5 (by
    # the ring's own card); the trim then took out the customers, not the ring, tied inside
    # by its card. The second pass leaves the ring apart.
    labels = _join_and_trim(labels, graph, cs, js)
    population = _population(store, scan_id, accounts)
    facts = population.set_index("account_id").reindex(nodes)
    facts[["account", "profile", "harvest", "content", "own_score"]] = facts[
        ["account", "profile", "harvest", "content", "own_score"]].fillna(0.0)  # fmt: skip
    # an organization's accounts that the phrases joined to a campaign are judged on their own
    labels = own_customers(labels, a, b, kinds_of_edge,
                           established(facts.account.to_numpy(), facts.verified.to_numpy(),
                                       facts.exchanges.to_numpy()))  # fmt: skip
    labels, k = _compact(labels)
    strength = internal_strength(labels, a, b, w)
    kinds = tie_kinds(labels, a, b, list(type_sets), k, type_codes)
    factor = kind_factor(kinds)
    firm = np.where(labels >= 0, coordination_of(strength, js), 0.0)  # membership
    coordination = firm * factor[np.maximum(labels, 0)]
    baseline = baseline_shares(population)
    measured = account_group_measured(store, scan_id)
    org = facts.org_name.where(facts.org_name.notna(), None).to_numpy(dtype=object)
    federated = federated_share(labels, a, b, kinds_of_edge, ow, org, k)
    table = cluster_scores(labels, facts.reset_index(drop=True), coordination, k, baseline,
                           measured, federated)  # fmt: skip
    null = null_threshold(
        labels, coordination, population, k, cs.target_fpr, cs.min_score, cs.null_rounds,
        account_measured=measured,
    )  # fmt: skip
    threshold = null.threshold
    members_of = [nodes[labels == c].tolist() for c in range(k)]
    status = ["reported" if s >= threshold else "candidate" for s in table.score]
    known_negative = 0.0
    if len(analyst.dismissed_accounts) >= MIN_DISMISSED:
        for c, m in enumerate(members_of):
            if sum(x in analyst.dismissed_accounts for x in m) * 2 > len(m):
                status[c] = "dismissed"
                known_negative = max(known_negative, float(table.score[c]))
        if known_negative >= threshold:
            threshold = known_negative + 1e-9
            status = [
                st if st == "dismissed" else ("reported" if s >= threshold else "candidate")
                for st, s in zip(status, table.score, strict=True)
            ]
    if not measured:
        # Without account facts (verified, organization, age, bans) an organization's fleet of
        # coding agents or an evaluation harness — coordinated, templated, harvest-shaped — is
        # a campaign to every other fact (development seed 1 of hydra-loud without its accounts
        # table: a fleet, a harness and power users, 116 per 10,000, beside the campaigns).
        # So clusters are listed for an analyst, none reported.
        status = ["candidate" if st == "reported" else st for st in status]
        result.notes.append(
            "no account facts (no account-group detector ran: see the skipped detectors): an "
            "organization's own fleet cannot be told from a campaign without them, so none is "
            "reported; the clusters are candidates: stillwatch campaigns --candidates"
        )
    result.threshold = {**null.as_dict(), "known_negative_max": round(known_negative, 4),
                        "threshold": round(threshold, 4),
                        "account_group_measured": measured}  # fmt: skip
    keep = [
        c for c in range(k) if status[c] != "candidate" or table.score[c] >= CANDIDATE_MIN_SCORE
    ]
    reported = [c for c in keep if status[c] == "reported"]
    # Accounts outside every cluster whose owned ties point to one reported campaign join it
    # (the campaign's score stays the one its core earned).
    registered = facts.registered_hour.to_numpy(dtype=float)
    labels = attach_outer(labels, a, b, ow, named, reported, NEAR_OWNED,
                          cs.outer_share, js.owned_strength, kinds_of_edge, registered,
                          facts.profile.to_numpy(dtype=float),
                          cs.outer_account if cs.outer_account < 1 else np.inf,
                          exchanges=facts.exchanges.to_numpy())  # fmt: skip
    members_of = [nodes[labels == c].tolist() for c in range(k)]
    firm = np.where(labels >= 0, coordination_of(internal_strength(labels, a, b, w), js), 0.0)
    result.seconds["cluster"] = time.perf_counter() - t0
    result.peak_mb["cluster"] = stage_peak_mb()
    t2 = time.perf_counter()
    doubt = _doubt(labels, a, b, w, ow, facts, firm, reported, cs)
    sizes = _sizes(store, scan_id, reported, members_of, cs, doubt)
    result.seconds["size"] = time.perf_counter() - t2
    result.peak_mb["size"] = stage_peak_mb()
    # Attribution over reported campaigns.
    campaign_of = {x: i for i, c in enumerate(reported) for x in members_of[c]}
    ties = bridges(edges, named, campaign_of)
    ops = operator_groups([len(members_of[c]) for c in reported], ties, cs.attribution_ratio)
    # Stable ids.
    prev_members, prev_first, prev_operator = _previous(store, scan_id)
    ids, lineage = carry_ids({c: set(members_of[c]) for c in keep}, prev_members, prev_first)
    op_ids = _operator_ids(reported, ops, ids, prev_operator)
    _write(store, scan_id, keep, status, table, members_of, ids, lineage, op_ids, sizes,
           prev_first, labels, nodes, firm, facts, ties, reported, result, kinds)  # fmt: skip
    for temp in ("_sw_cells", "_sw_members"):  # the members' exchanges: millions of rows
        store.con.execute(f"DROP TABLE IF EXISTS {temp}")
    result.seconds["write"] = time.perf_counter() - t2 - result.seconds["size"]
    return result


@dataclass(frozen=True)
class _Graph:
    """The account graph as the clustering steps read it (node indexes per edge)."""

    a: np.ndarray
    b: np.ndarray
    w: np.ndarray
    ow: np.ndarray
    owned: np.ndarray
    named: NamedValues
    kinds: np.ndarray


def _join_and_trim(
    labels: np.ndarray, g: _Graph, cs: CampaignSettings, js: JudgeSettings
) -> np.ndarray:
    """Split each cluster by its owned ties, join the parts again, trim weak members and
    members tied by stray phrases (steps 3 and 4 of ``docs/campaigns.md`` §2)."""
    a, b, w, ow, owned, named, kinds_of_edge = g.a, g.b, g.w, g.ow, g.owned, g.named, g.kinds
    parent = labels
    labels = split_by_owned(
        labels, a, b, owned, ow, SPLIT_TIE, cs.resolution, cs.seed, cs.leiden_iterations
    )
    # Parts the split made, of two accounts or more, rejoin what they are firmly tied to: a
    # sparse campaign's owned-tie communities are many small ones (paraphrased frames, one card
    # per account), each tied to the rest by more than half a firm tie per account; an app
    # fleet split off a hydra by three firm ties is not. Not single accounts: letting them
    # rejoin brought a router and a power user into campaigns on development seeds; lone
    # accounts join later as outer members, on distinct owned evidence.
    # ... until nothing changes: a part that joined a larger one makes it larger and its ties
    # firmer, so the next round may join it in turn. A campaign of thousands of accounts, each
    # keeping only its strongest links, comes out of CPM in a hundred parts (`low-and-slow`
    # medium, development seed 1: 5,260 accounts in 177 parts; one round left them in 83
    # reported campaigns, two more rounds in one).
    for _ in range(MERGE_ROUNDS):
        merged = merge_parts(labels, a, b, ow, owned, cs.merge_ratio, 2, named, js.owned_strength)
        if np.array_equal(merged, labels):
            break
        labels = merged
    # Then what is still apart but tied to the rest of its cluster taken together is one again
    # (after the joining, so that a group of parts firmly tied to each other, an app fleet's,
    # is judged as one group).
    labels = rejoin_siblings(parent, labels, a, b, ow, owned, cs.merge_ratio, 2, named,
                             js.owned_strength)  # fmt: skip
    # Last, parts held together by the same owned values are one, wherever the graph cut
    # them: a campaign of thousands tied sparsely comes out of CPM as arcs of a ring.
    labels = join_alike(labels, a, b, named, ALIKE_SIMILARITY, js.owned_strength,
                        cs.min_accounts)  # fmt: skip
    labels = trim(labels, a, b, w, owned, js, owned_weight=ow, kinds=kinds_of_edge)
    stray = stray_phrases(labels, a, b, named)
    if stray.any():
        labels[stray] = -1
        labels = trim(labels, a, b, w, owned, js, owned_weight=ow, kinds=kinds_of_edge)
    return labels


def _previous(
    store: Store, scan_id: str
) -> tuple[dict[str, set[str]], dict[str, str], dict[str, str]]:
    prev = store.scalar(
        "SELECT s.scan_id FROM scans s WHERE s.status = 'done' AND s.scan_id <> ? AND EXISTS "
        "(SELECT 1 FROM campaigns c WHERE c.scan_id = s.scan_id) ORDER BY s.finished_at DESC "
        "LIMIT 1",
        [scan_id],
    )
    if prev is None:
        return {}, {}, {}
    members: dict[str, set[str]] = {}
    for cid, acc in store.sql(
        "SELECT campaign_id, account_id FROM campaign_members m WHERE scan_id = ? AND "
        "campaign_id IN (SELECT campaign_id FROM campaigns WHERE scan_id = ? AND "
        "status = 'reported')",
        [prev, prev],
    ):
        members.setdefault(cid, set()).add(acc)
    first = {}
    operator = {}
    for cid, fs, op in store.sql(
        "SELECT campaign_id, first_scan_id, operator_id FROM campaigns WHERE scan_id = ?", [prev]
    ):
        first[cid] = fs
        if op:
            operator[cid] = op
    return members, first, operator


def _operator_ids(
    reported: list[int], ops: np.ndarray, ids: dict[int, str], prev_operator: dict[str, str]
) -> dict[int, str]:
    out: dict[int, str] = {}
    taken: set[str] = set()
    for g in sorted(set(ops.tolist())):
        cs = [reported[i] for i in np.flatnonzero(ops == g)]
        votes = Counter(prev_operator[ids[c]] for c in cs if ids[c] in prev_operator)
        chosen = None
        for op, _ in sorted(votes.items(), key=lambda kv: (-kv[1], kv[0])):
            if op not in taken:
                chosen = op
                break
        chosen = chosen or digest_id("op", [ids[c] for c in cs])
        taken.add(chosen)
        for c in cs:
            out[c] = chosen
    return out


@dataclass
class CampaignSize:
    exchanges: tuple[int, int, int]
    accounts: tuple[int, int, int]
    member_exchanges: int
    legit_share: float
    confidence: dict[str, float]
    split: str = "mixture"  # how the members' exchanges were split: "mixture" or "frames"


def _doubt(
    labels: np.ndarray, a: np.ndarray, b: np.ndarray, w: np.ndarray, ow: np.ndarray,
    facts: pd.DataFrame, coordination: np.ndarray, reported: list[int], cs: CampaignSettings,
) -> dict[int, tuple[list[int], list[int]]]:  # fmt: skip
    """Per reported campaign, the accounts in doubt: members tied only loosely (membership
    under ``CORE_MEMBERSHIP``: they may not belong), and accounts outside every campaign that
    may belong: tied to it by at least ``NEAR_STRENGTH`` of edge weight with account facts
    that look like a campaign's (their only ties may be rented pools), or with owned ties to it
    weighing at least ``NEAR_OWNED`` that are most of their owned ties anywhere (an account
    used for a day or two shares a frame or two with the campaign and nothing with anyone
    else, too little for the clustering's density). Node indexes."""
    out: dict[int, tuple[list[int], list[int]]] = {}
    if not reported:
        return out
    la, lb = labels[a], labels[b]
    rep = np.zeros(int(labels.max()) + 2, dtype=bool)
    rep[np.asarray(reported)] = True
    outside_a = (la < 0) & (lb >= 0) & rep[np.maximum(lb, 0)]
    outside_b = (lb < 0) & (la >= 0) & rep[np.maximum(la, 0)]
    near = pd.DataFrame({
        "node": np.r_[a[outside_a], b[outside_b]],
        "c": np.r_[lb[outside_a], la[outside_b]],
        "w": np.r_[w[outside_a], w[outside_b]],
        "ow": np.r_[ow[outside_a], ow[outside_b]],
    }).groupby(["node", "c"])[["w", "ow"]].sum().reset_index()  # fmt: skip
    near = near.sort_values("w", ascending=False).drop_duplicates("node")
    account = facts.account.to_numpy()
    owned_anywhere = np.bincount(np.r_[a, b], np.r_[ow, ow], len(labels))
    node = near.node.to_numpy()
    near = near[((near.w >= NEAR_STRENGTH) & (account[node] >= 0.5))
                | ((near.ow >= NEAR_OWNED) & (2 * near.ow >= owned_anywhere[node]))]  # fmt: skip
    for c in reported:
        loose = np.flatnonzero((labels == c) & (coordination < CORE_MEMBERSHIP)).tolist()
        out[c] = (loose, near.node[near.c == c].astype(int).tolist())
    return out


def _sizes(
    store: Store, scan_id: str, reported: list[int], members_of: list[list[str]],
    cs: CampaignSettings, doubt: dict[int, tuple[list[int], list[int]]],
) -> dict[int, CampaignSize]:  # fmt: skip
    if not reported:
        return {}
    rows = [(x, c) for c in reported for x in members_of[c]]
    members = pa.table({"account_id": [r[0] for r in rows], "c": [r[1] for r in rows]})
    query_arrow(store.con, members, "_sw_members_df",
                "CREATE OR REPLACE TEMP TABLE _sw_members AS SELECT * FROM _sw_members_df")  # fmt: skip
    legit = exchange_cells(store, "_sw_members", DESCRIBED)
    count_sql = (
        "SELECT m.c, x.account_id, x.cell, count(*) AS n FROM _sw_cells x JOIN _sw_members m "
        "USING (account_id) {} GROUP BY ALL"
    )
    per = store.con.execute(count_sql.format("")).df()
    matrices = {c: _matrix(per, c) for c in reported}
    mixtures = {c: mixture(matrices[c].sum(axis=0), legit) for c in reported}
    # where the members carry legitimate traffic, their campaign's frames say which is which
    resold = [c for c in reported if mixtures[c].legit_share > 0]
    framed = framed_exchanges(store, resold)
    by_frames = [
        c for c in resold
        if framed.get(c, 0) > 0
        and framed[c] >= MIN_FRAMED_SHARE * counted(mixtures[c], matrices[c].sum(axis=0))
    ]  # fmt: skip
    if by_frames:  # their cells marked, counted again (theirs only)
        mark_cells(store, by_frames)
        chosen = ", ".join(str(int(c)) for c in by_frames)
        per = store.con.execute(count_sql.format(f"WHERE m.c IN ({chosen})")).df()
    store.con.execute("DROP TABLE IF EXISTS _sw_framed")
    out: dict[int, CampaignSize] = {}
    for c in reported:
        if c in by_frames:
            matrix = _matrix(per, c)
            est = framed_split(matrix)
            point = lo = hi = float(framed[c])
        else:
            matrix, est = matrices[c], mixtures[c]
            point, lo, hi = bootstrap_exchanges(matrix, legit, cs.bootstrap_rounds, cs.seed + c)
        n = len(members_of[c])
        loose, near = doubt.get(c, ([], []))
        # accounts the graph cannot see (or wrongly holds) either way: ``unseen_share``
        m = cs.unseen_share
        a_low = int(np.floor((n - len(loose)) * (1 - m)))
        a_high = int(np.ceil((n + len(near)) * (1 + m)))
        # the members' exchanges judged legitimate (resold) are an estimate: ``mixture_margin``
        # of them either way
        mix = cs.mixture_margin * max(0.0, float(matrix.to_numpy().sum()) - point)
        out[c] = CampaignSize(
            (
                round(point),
                max(0, int(np.floor(min(lo, point) * (n - len(loose)) / n * (1 - m) - mix))),
                int(np.ceil(max(hi, point) * (n + len(near)) / n * (1 + m) + mix)),
            ),
            (n, a_low, a_high),
            int(matrix.to_numpy().sum()),
            est.legit_share,
            est.confidence,
            "frames" if c in by_frames else "mixture",
        )
    return out


def _matrix(per: pd.DataFrame, c: int) -> pd.DataFrame:
    """Campaign ``c``'s exchanges per member account × cell, from ``per`` (c, account, cell, n)."""
    return per[per.c == c].pivot_table(index="account_id", columns="cell", values="n",
                                       aggfunc="sum", fill_value=0)  # fmt: skip


def _json(x: Any) -> str:
    return json.dumps(x, sort_keys=True, default=str)


def _write(
    store: Store, scan_id: str, keep: list[int], status: list[str], table: pd.DataFrame,
    members_of: list[list[str]], ids: dict[int, str], lineage: dict[int, dict[str, list[str]]],
    op_ids: dict[int, str], sizes: dict[int, CampaignSize], prev_first: dict[str, str],
    labels: np.ndarray, nodes: np.ndarray, coordination: np.ndarray, facts: pd.DataFrame,
    ties: dict[tuple[int, int], tuple[float, float]], reported: list[int], result: CampaignResult,
    kinds: np.ndarray,
) -> None:  # fmt: skip
    node_index = {x: i for i, x in enumerate(nodes.tolist())}
    conf_rows: list[tuple[str, str, float]] = []
    camp_rows: dict[str, list[Any]] = {k: [] for k in (
        "scan_id", "campaign_id", "operator_id", "score", "threshold", "status", "accounts",
        "accounts_low", "accounts_high", "exchanges", "exchanges_low", "exchanges_high",
        "member_exchanges", "evidence", "first_scan_id")}  # fmt: skip
    mem_rows: dict[str, list[Any]] = {k: [] for k in (
        "scan_id", "campaign_id", "account_id", "membership", "role", "campaign_share",
        "signals")}  # fmt: skip
    thr = float(result.threshold["threshold"])
    for c in keep:
        cid = ids[c]
        size = sizes.get(c)
        row = table.iloc[c]
        evidence = {
            "size": int(row["size"]),
            "tie_kinds": int(kinds[c]),
            "account": round(float(row.account), 4),
            # False: no account-group detector ran; ``account`` is then not a measurement
            "account_measured": bool(result.threshold.get("account_group_measured", True)),
            "coordination": round(float(row.coordination), 4),
            "harvest": round(float(row.harvest), 4),
            "verified_share": round(float(row.verified_share), 4),
            "top_org_share": round(float(row.top_org_share), 4),
            "federated_share": round(float(row.federated_share), 4),
            "enforced_share": round(float(row.enforced_share), 4),
            "member_harvest": round(float(row.member_harvest), 4),
            "content_harvest": round(float(row.content_harvest), 4),
            "lift": {
                x: round(float(getattr(row, f"lift_{x}")), 4)
                for x in ("thinking", "max_cap", "elicitation", "targeted")
            },
            "legit_share": round(size.legit_share, 4) if size else None,
            "exchanges_split": size.split if size else None,
            **lineage.get(c, {}),
        }
        camp_rows["scan_id"].append(scan_id)
        camp_rows["campaign_id"].append(cid)
        camp_rows["operator_id"].append(op_ids.get(c))
        camp_rows["score"].append(round(float(row.score), 6))
        camp_rows["threshold"].append(round(thr, 6))
        camp_rows["status"].append(status[c])
        n = len(members_of[c])
        acc = size.accounts if size else (n, n, n)
        ex = size.exchanges if size else (None, None, None)
        camp_rows["accounts"].append(acc[0])
        camp_rows["accounts_low"].append(acc[1])
        camp_rows["accounts_high"].append(acc[2])
        camp_rows["exchanges"].append(ex[0])
        camp_rows["exchanges_low"].append(ex[1])
        camp_rows["exchanges_high"].append(ex[2])
        camp_rows["member_exchanges"].append(size.member_exchanges if size else None)
        camp_rows["evidence"].append(_json(evidence))
        camp_rows["first_scan_id"].append(
            prev_first.get(cid, scan_id) if status[c] == "reported" else None
        )
        for x in members_of[c]:
            i = node_index[x]
            m = float(coordination[i])
            mem_rows["scan_id"].append(scan_id)
            mem_rows["campaign_id"].append(cid)
            mem_rows["account_id"].append(x)
            mem_rows["membership"].append(round(m, 4))
            mem_rows["role"].append("core" if m >= CORE_MEMBERSHIP else "peripheral")
            mem_rows["campaign_share"].append(None)
            mem_rows["signals"].append(_json({
                "account": round(float(facts.account.iloc[i]), 4),
                "harvest": round(float(facts.harvest.iloc[i]), 4),
                "own_score": round(float(facts.own_score.iloc[i]), 4),
            }))  # fmt: skip
            if status[c] == "reported":
                result.member_of[x] = (cid, m, float(row.score))
        if size:
            conf_rows.extend((cid, cell, v) for cell, v in size.confidence.items())
    _insert(store, "campaigns", camp_rows)
    _insert(store, "campaign_members", mem_rows)
    result.reported = sum(1 for c in keep if status[c] == "reported")
    result.candidates = len(keep) - result.reported
    if reported:
        _campaign_exchanges(store, scan_id, conf_rows, reported, ids)
        _describe(store, scan_id)
    ops: dict[str, list[str]] = {}
    for c in reported:
        ops.setdefault(op_ids[c], []).append(ids[c])
    op_rows: dict[str, list[Any]] = {k: [] for k in ("scan_id", "operator_id", "campaigns",
                                                     "evidence", "first_scan_id")}  # fmt: skip
    pos = {c: i for i, c in enumerate(reported)}
    for op, cids in sorted(ops.items()):
        linked = [
            {
                "campaigns": [ids[reported[x]], ids[reported[y]]],
                "owned_weight": round(n, 3),
                "distinct_values": round(v, 3),
            }
            for (x, y), (n, v) in sorted(ties.items())
            if ids[reported[x]] in cids and ids[reported[y]] in cids
        ]
        op_rows["scan_id"].append(scan_id)
        op_rows["operator_id"].append(op)
        op_rows["campaigns"].append(len(cids))
        op_rows["evidence"].append(_json({"campaign_ids": sorted(cids), "ties": linked}))
        op_rows["first_scan_id"].append(scan_id)
    del pos
    _insert(store, "operators", op_rows)
    store.con.execute(
        "UPDATE operators o SET first_scan_id = p.first FROM (SELECT operator_id, "
        "min(first_scan_id) AS first FROM campaigns WHERE operator_id IS NOT NULL AND "
        "first_scan_id IS NOT NULL GROUP BY operator_id) p WHERE o.scan_id = ? AND "
        "o.operator_id = p.operator_id",
        [scan_id],
    )
    result.operators = len(ops)


def _insert(store: Store, table: str, rows: dict[str, list[Any]]) -> None:
    if not rows["scan_id"]:
        return
    frame = pa.table(rows)
    cols = ", ".join(f'"{c}"' for c in frame.column_names)
    query_arrow(
        store.con, frame, "_sw_rows", f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _sw_rows"
    )


def _campaign_exchanges(
    store: Store, scan_id: str, conf_rows: list[tuple[str, str, float]], reported: list[int],
    ids: dict[int, str],
) -> None:  # fmt: skip
    # each reported campaign's confident cells, by the member index ``c`` of _sw_members
    campaign_of = {ids[c]: c for c in reported}
    confident = [r for r in conf_rows if r[2] >= EXCHANGE_CONFIDENCE and r[0] in campaign_of]
    cells = pa.table({
        "scan_id": pa.array([scan_id] * len(confident), pa.string()),
        "c": pa.array([campaign_of[r[0]] for r in confident], pa.int64()),
        "campaign_id": pa.array([r[0] for r in confident], pa.string()),
        "cell": pa.array([r[1] for r in confident], pa.string()),
        "confidence": pa.array([r[2] for r in confident], pa.float64())})  # fmt: skip
    query_arrow(
        store.con, cells, "_sw_conf_df",
        f"""
        CREATE OR REPLACE TEMP TABLE _sw_ce AS
        SELECT f.scan_id, f.campaign_id, x.event_id, x.account_id, x.day,
               round(f.confidence, 4) AS confidence, {_DESCRIBED_X}
        FROM _sw_cells x JOIN _sw_members m USING (account_id)
        JOIN _sw_conf_df f ON f.c = m.c AND f.cell = x.cell
        """,
    )  # fmt: skip
    store.con.execute(
        "INSERT INTO campaign_exchanges (scan_id, campaign_id, event_id, account_id, day, "
        "confidence) SELECT scan_id, campaign_id, event_id, account_id, day, confidence "
        "FROM _sw_ce"
    )


def _describe(store: Store, scan_id: str) -> None:
    """First and last seen (with intervals), capabilities, infrastructure, keys and end
    users of each reported campaign, from its exchanges: ``_sw_ce``, which
    :func:`_campaign_exchanges` leaves with the ``DESCRIBED`` columns of each (a join of the
    campaign exchanges with ``exchanges`` per description took 46 s at the large scale, 14
    million rows against 52 million; carried with the members' cells, none)."""
    try:
        _describe_from(store, scan_id)
    finally:
        store.con.execute("DROP TABLE IF EXISTS _sw_ce")


def _describe_from(store: Store, scan_id: str) -> None:
    store.con.execute(
        """
        UPDATE campaigns c SET first_seen = d.first, last_seen = d.last,
          first_seen_low = d.any_first, first_seen_high = d.first2,
          last_seen_low = d.last2, last_seen_high = d.any_last
        FROM (
          SELECT e.campaign_id, min(e.day) AS first, max(e.day) AS last,
                 (SELECT min(day) FROM _sw_cells x JOIN campaign_members m USING (account_id)
                  WHERE m.scan_id = e.scan_id AND m.campaign_id = e.campaign_id) AS any_first,
                 (SELECT max(day) FROM _sw_cells x JOIN campaign_members m USING (account_id)
                  WHERE m.scan_id = e.scan_id AND m.campaign_id = e.campaign_id) AS any_last,
                 min(e.day) FILTER (WHERE e.confidence >= 0.9) AS first2,
                 max(e.day) FILTER (WHERE e.confidence >= 0.9) AS last2
          FROM campaign_exchanges e WHERE e.scan_id = ? GROUP BY e.scan_id, e.campaign_id
        ) d WHERE c.scan_id = ? AND c.campaign_id = d.campaign_id
        """,
        [scan_id, scan_id],
    )
    store.con.execute(
        """
        UPDATE campaigns SET
          first_seen_low = least(first_seen_low, first_seen),
          first_seen_high = greatest(coalesce(first_seen_high, first_seen), first_seen),
          last_seen_low = least(coalesce(last_seen_low, last_seen), last_seen),
          last_seen_high = greatest(last_seen_high, last_seen)
        WHERE scan_id = ? AND first_seen IS NOT NULL
        """,
        [scan_id],
    )
    for column, sql in _DESCRIBE.items():
        store.con.execute(
            f"UPDATE campaigns c SET {column} = d.v FROM ({sql}) d "
            "WHERE c.scan_id = ? AND c.campaign_id = d.campaign_id",
            [scan_id, scan_id],
        )


def _top(expr: str, source: str, unit: str = "exchanges") -> str:
    return f"""
        SELECT campaign_id, to_json(struct_pack(distinct_values := count(*),
               top := list(struct_pack(value := v, {unit} := n) ORDER BY n DESC, v)[1:10])) AS v
        FROM (SELECT campaign_id, {expr} AS v, count(*) AS n FROM {source}
              GROUP BY ALL HAVING v IS NOT NULL)
        GROUP BY campaign_id
    """


# what the descriptions read of each campaign exchange (``_sw_ce``)
DESCRIBED = ("api_key_id", "end_user_id", "asn", "tls_fingerprint")
_DESCRIBED_X = ", ".join(f"x.{c}" for c in DESCRIBED)
_CE = "(SELECT * FROM _sw_ce WHERE scan_id = ?)"
_CM = ("(SELECT m.campaign_id, a.* FROM campaign_members m JOIN accounts a USING (account_id) "
       "WHERE m.scan_id = ?)")  # fmt: skip
_DESCRIBE = {
    # The capability each member's sampled prompts mostly target (content.capability-focus),
    # as shares of the members that have one; NULL without prompt text.
    "capabilities": """
        SELECT campaign_id, to_json(map_from_entries(list(struct_pack(k := cap, v := share)
                                                        ORDER BY share DESC, cap))) AS v
        FROM (SELECT campaign_id, cap,
                     round(n / sum(n) OVER (PARTITION BY campaign_id), 4) AS share
              FROM (SELECT m.campaign_id, s.evidence->>'capability' AS cap, count(*) AS n
                    FROM campaign_members m JOIN signals s USING (scan_id, account_id)
                    WHERE m.scan_id = ? AND s.detector = 'content.capability-focus'
                    GROUP BY m.campaign_id, cap))
        GROUP BY campaign_id
    """,
    "api_keys": _top("api_key_id", _CE),
    "end_users": _top("end_user_id", _CE),
    "infrastructure": f"""
        SELECT campaign_id, to_json(struct_pack(
          asns := (SELECT to_json(list(struct_pack(asn := v, exchanges := n) ORDER BY n DESC, v)[1:5])
                   FROM (SELECT asn AS v, count(*) AS n FROM {_CE.replace("?", "q.scan_id")} z
                         WHERE z.campaign_id = q.campaign_id AND asn IS NOT NULL GROUP BY ALL)),
          tls_fingerprints := (SELECT to_json(list(struct_pack(value := v, exchanges := n) ORDER BY n DESC, v)[1:5])
                   FROM (SELECT tls_fingerprint AS v, count(*) AS n FROM {_CE.replace("?", "q.scan_id")} z
                         WHERE z.campaign_id = q.campaign_id AND tls_fingerprint IS NOT NULL GROUP BY ALL)),
          payment_fingerprints := (SELECT to_json(list(struct_pack(value := v, accounts := n) ORDER BY n DESC, v)[1:5])
                   FROM (SELECT payment_fingerprint AS v, count(*) AS n FROM {_CM.replace("?", "q.scan_id")} z
                         WHERE z.campaign_id = q.campaign_id AND payment_fingerprint IS NOT NULL GROUP BY ALL)),
          signup_paths := (SELECT to_json(list(struct_pack(value := v, accounts := n) ORDER BY n DESC, v)[1:5])
                   FROM (SELECT signup_path AS v, count(*) AS n FROM {_CM.replace("?", "q.scan_id")} z
                         WHERE z.campaign_id = q.campaign_id AND signup_path IS NOT NULL GROUP BY ALL))
        )) AS v
        FROM (SELECT DISTINCT scan_id, campaign_id FROM campaigns WHERE scan_id = ?) q
    """,
}
