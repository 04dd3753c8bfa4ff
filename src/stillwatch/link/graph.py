"""The account graph: one edge per pair of accounts, from every kind of tie the detectors found.

Inputs are this scan's ``link_candidates`` (shared rare infrastructure, registration bursts,
same-minute activity, shared prompt frames, MinHash neighbours). Each candidate already carries
a rarity weight in (0, 1] — how surprising the shared value is against what its attribute type
usually shows, hubs capped by the detector (``max_group``, ``top_k``). The link stage

- multiplies each candidate's weight by how much its **link type** can say about common
  control (``TYPE_TRUST``: a shared payment instrument or a prompt frame says more than a
  shared proxy range, which two operators renting from one provider also share),
- combines the kinds of evidence on one pair as independent pieces, ``1 - Π(1 - trust·w)``,
  so two different kinds of tie make a stronger edge than either alone,
- keeps an edge only while it is among the ``top_k`` strongest of at least one endpoint
  (hubs capped again after combining; the graph is never all pairs), and only at
  ``min_weight`` or more.

Everything runs inside DuckDB (no Python loop over pairs or exchanges). Known false positives
are the detectors': one organization's accounts are linked as strongly as one operator's —
the campaign stage judges the cluster as a whole.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from stillwatch.engine.store import Store

# How much a tie of each type says about common control, before its rarity weight.
# Rented pools (proxy ranges, cloud ASNs, SDK fingerprints and user agents) are shared by
# unrelated customers of one provider; payment, frames, synchronized minutes and sign-up
# networks are the operator's own.
TYPE_TRUST: dict[str, float] = {
    "payment": 1.0,
    "email_domain": 0.9,
    "frame": 0.8,
    "minhash": 0.8,
    "prompt": 0.8,
    "same_minutes": 0.9,
    "registration_burst": 0.7,
    "signup_prefix": 0.6,
    "ip_prefix": 0.35,
    "registration_path": 0.25,
    "asn": 0.15,
    "tls_fingerprint": 0.15,
    "user_agent": 0.1,
}
DEFAULT_TRUST = 0.3
# Link types that a rented pool explains: two operators buying from one proxy provider share
# them without sharing anything else (attribution ignores them).
# A registration burst on a sign-up path alone (everyone who signed up self-serve that
# afternoon) is such a pool too: ``registration_path``.
POOL_TYPES = frozenset({"ip_prefix", "asn", "tls_fingerprint", "user_agent",
                        "registration_path"})  # fmt: skip


def _trust_sql() -> str:
    cases = " ".join(f"WHEN '{k}' THEN {v}" for k, v in TYPE_TRUST.items())
    return f"CASE link_type {cases} ELSE {DEFAULT_TRUST} END"


# Candidates combined into edges per part of the accounts: the edge step's ordered list and
# string aggregates do not spill, and the large scale's candidates did not fit the store's
# 1 GB memory limit at once (about this many candidates a part).
EDGE_PART_ROWS = 2_000_000


def build_links(store: Store, scan_id: str, top_k: int = 30, min_weight: float = 0.05) -> int:
    """Combine this scan's link candidates into ``links`` (two rows per edge); return the
    number of edges."""
    store.con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _sw_cand AS
        SELECT link_id,
               CASE WHEN any_value(link_type) = 'registration_burst'
                     AND any_value(evidence)->>'key' = 'signup_path'
                    THEN 'registration_path' ELSE any_value(link_type) END AS link_type,
               any_value(weight) AS weight,
               any_value(evidence) AS evidence, min(account_id) AS a, max(account_id) AS b
        FROM link_candidates WHERE scan_id = ? GROUP BY link_id
        HAVING count(DISTINCT account_id) = 2
        """,
        [scan_id],
    )
    rows = int(store.scalar("SELECT count(*) FROM _sw_cand"))
    parts = max(1, -(-rows // EDGE_PART_ROWS))
    store.con.execute(
        "CREATE OR REPLACE TEMP TABLE _sw_edge (a VARCHAR, b VARCHAR, weight DOUBLE, "
        "link_types VARCHAR[], evidence JSON)"
    )
    for part in range(parts):
        store.con.execute(
            f"""
            INSERT INTO _sw_edge
            WITH typed AS (
                -- the strongest candidate's evidence (equal weights: the larger evidence text)
                SELECT a, b, link_type, max(weight) AS weight,
                       max({{'w': weight, 'e': CAST(evidence AS VARCHAR)}}).e::JSON AS evidence,
                       least(0.999, {_trust_sql()} * max(weight)) AS w
                FROM _sw_cand WHERE hash(a) % {parts} = {part} GROUP BY a, b, link_type
            )
            -- rounded: threads add in any order, and the last bits must not pick the edges
            SELECT a, b, round(1 - exp(sum(ln(1 - w))), 9) AS weight,
                   list(link_type ORDER BY link_type) AS link_types,
                   -- one JSON object keyed by link type, keys in a fixed order (repeatable)
                   ('{{' || string_agg(to_json(link_type) || ':' || json_object(
                       'weight', round(weight, 4), 'trusted_weight', round(w, 4),
                       'evidence', evidence), ',' ORDER BY link_type) || '}}')::JSON AS evidence
            FROM typed GROUP BY a, b HAVING round(1 - exp(sum(ln(1 - w))), 9) >= ?
            """,
            [min_weight],
        )
    store.con.execute("DROP TABLE _sw_cand")
    store.con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _sw_edges AS
        WITH ends AS (SELECT a AS me, b AS peer, weight FROM _sw_edge
                      UNION ALL SELECT b AS me, a AS peer, weight FROM _sw_edge),
        strongest AS (
            SELECT DISTINCT least(me, peer) AS a, greatest(me, peer) AS b FROM (
                SELECT me, peer,
                       row_number() OVER (PARTITION BY me ORDER BY weight DESC, peer) AS r
                FROM ends
            ) WHERE r <= ?
        )
        SELECT substr(sha256(a || chr(0) || b), 1, 20) AS link_id, a, b, weight, link_types,
               evidence
        FROM _sw_edge JOIN strongest USING (a, b)
        """,
        [top_k],
    )
    store.con.execute("DROP TABLE _sw_edge")
    store.con.execute(
        """
        INSERT INTO links (scan_id, link_id, account_id, weight, link_types, evidence)
        SELECT ?, link_id, a, weight, link_types, evidence FROM _sw_edges
        UNION ALL
        SELECT ?, link_id, b, weight, link_types, evidence FROM _sw_edges
        """,
        [scan_id, scan_id],
    )
    n = int(store.scalar("SELECT count(*) FROM _sw_edges"))
    return n


_POOLS = ", ".join(f"'{t}'" for t in sorted(POOL_TYPES))
_TRUSTED = "CAST(json_extract(ev, '$.\"' || t || '\".trusted_weight') AS DOUBLE)"
# One row per edge: ``edge`` numbers them in ``a``, ``b`` order (``a < b``; one edge per pair).
# The ends are grouped and numbered without the evidence, which is read from the edge's row of
# its ``a`` end (both rows of an edge carry the same weight, types and evidence): grouping the
# evidence text too took 42 s of CPU at the large scale (15-19 s this way). Takes the scan id
# twice.
_EDGES = """
    SELECT e.edge, e.a, e.b, l.weight, l.link_types, l.evidence AS ev
    FROM (SELECT row_number() OVER (ORDER BY a, b) - 1 AS edge, link_id, a, b
          FROM (SELECT link_id, min(account_id) AS a, max(account_id) AS b
                FROM links WHERE scan_id = ? GROUP BY link_id)) e
    JOIN links l ON l.scan_id = ? AND l.link_id = e.link_id AND l.account_id = e.a
"""


def edge_frame(store: Store, scan_id: str) -> pd.DataFrame:
    """This scan's edges, one row each, ordered by ``a``, ``b``: ``a``, ``b`` (a < b),
    ``weight``, ``link_types`` (a tuple, shared by every edge of the same kinds) and
    ``owned_weight``: the weight of its owned kinds alone (``1 − Π(1 − trusted weight)`` over
    the link types that are not ``POOL_TYPES``; 0 for a pool-only edge). What the owned kinds
    name is :func:`owned_value_rows`; :func:`edges_and_owned_values` gives both from one pass.
    Nothing here is a Python object per edge but the two account ids: a large graph's edges
    fit in memory."""
    return _edge_frame(store, f"({_EDGES})", [scan_id, scan_id])


def owned_value_rows(store: Store, scan_id: str) -> pd.DataFrame:
    """What each edge's owned kinds share, one row per value: ``edge`` (the edge's row in
    :func:`edge_frame`), ``key`` as ``kind:value`` (the frame, card, network or burst value
    its evidence names; the pair itself for pair-wise kinds such as same-minute activity) and
    its trusted ``weight``, so that one value shared by many pairs can be told from many
    values. Ordered by edge, then by the edge's link types."""
    return _owned_value_rows(store, f"({_EDGES})", [scan_id, scan_id])


def edges_and_owned_values(store: Store, scan_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`edge_frame` and :func:`owned_value_rows` with the links grouped into edges once."""
    store.con.execute(f"CREATE OR REPLACE TEMP TABLE _sw_edge_rows AS {_EDGES}", [scan_id, scan_id])
    try:
        return (_edge_frame(store, "_sw_edge_rows", []),
                _owned_value_rows(store, "_sw_edge_rows", []))  # fmt: skip
    finally:
        store.con.execute("DROP TABLE IF EXISTS _sw_edge_rows")


def _edge_frame(store: Store, edges: str, params: list[Any]) -> pd.DataFrame:
    frame = store.con.execute(
        f"""
        SELECT a, b, weight, array_to_string(link_types, ',') AS link_types,
               coalesce(1 - exp(list_sum(list_transform(
                   list_filter(link_types, lambda t: t NOT IN ({_POOLS})),
                   lambda t: ln(1 - least(0.999, {_TRUSTED}))))), 0.0) AS owned_weight
        FROM {edges} ORDER BY edge
        """,
        params,
    ).df()
    codes, kinds = pd.factorize(frame.link_types)
    shared = np.empty(len(kinds), dtype=object)
    shared[:] = [tuple(k.split(",")) if k else () for k in kinds]
    frame["link_types"] = shared[codes] if len(frame) else np.empty(0, dtype=object)
    return frame


def _owned_value_rows(store: Store, edges: str, params: list[Any]) -> pd.DataFrame:
    named = " , ".join(
        f"json_extract_string(ev, '$.\"' || t || '\".evidence.{f}')"
        for f in ("frame_id", "strongest", "value")
    )
    return store.con.execute(
        f"""
        WITH e AS (
            SELECT edge, a, b, ev,
                   list_filter(link_types, lambda t: t NOT IN ({_POOLS})) AS owned
            FROM {edges}
        ),
        v AS (
            SELECT edge, a, b, ev, unnest(owned) AS t, generate_subscripts(owned, 1) AS pos
            FROM e
        )
        SELECT edge, t || ':' || coalesce({named}, a || '|' || b) AS key,
               coalesce({_TRUSTED}, 0.0) AS weight
        FROM v ORDER BY edge, pos
        """,
        params,
    ).df()


def edge_evidence(store: Store, scan_id: str, link_id: str) -> dict[str, Any]:
    raw = store.scalar(
        "SELECT any_value(evidence) FROM links WHERE scan_id = ? AND link_id = ?",
        [scan_id, link_id],
    )
    return json.loads(raw) if raw else {}
