"""The link stage: candidates of several detectors on one pair become one edge whose weight
combines the kinds of evidence; hubs are capped; two rows per edge; evidence kept."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from stillwatch.engine.store import Store, open_store
from stillwatch.link.graph import (
    TYPE_TRUST,
    build_links,
    edge_frame,
    edges_and_owned_values,
    owned_value_rows,
)

SCAN = "scan-test"


def _candidate(store: Store, link_id: str, a: str, b: str, link_type: str, weight: float,
               evidence: dict | None = None) -> None:  # fmt: skip
    for end in (a, b):
        store.con.execute(
            "INSERT INTO link_candidates VALUES (?, ?, 'det', ?, ?, ?, ?)",
            [SCAN, link_id, link_type, end, weight, json.dumps(evidence or {"value": "x"})],
        )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(tmp_path / "s.duckdb")


def test_kinds_of_evidence_combine_into_one_edge(store: Store) -> None:
    _candidate(store, "l1", "acct_a", "acct_b", "payment", 0.6)
    _candidate(store, "l2", "acct_a", "acct_b", "ip_prefix", 0.8)
    _candidate(store, "l3", "acct_a", "acct_c", "ip_prefix", 0.8)
    assert build_links(store, SCAN) == 2
    edges = edge_frame(store, SCAN).set_index("b")
    both = 1 - (1 - TYPE_TRUST["payment"] * 0.6) * (1 - TYPE_TRUST["ip_prefix"] * 0.8)
    assert edges.loc["acct_b", "weight"] == pytest.approx(both)
    assert list(edges.loc["acct_b", "link_types"]) == ["ip_prefix", "payment"]
    # A shared proxy range alone says less than a shared card and the range together.
    assert edges.loc["acct_c", "weight"] < edges.loc["acct_b", "weight"]
    assert store.scalar("SELECT count(*) FROM links") == 4  # two rows per edge, one per end
    rows = store.sql(
        "SELECT link_id, account_id, evidence FROM links "
        "WHERE list_contains(link_types, 'payment') ORDER BY account_id"
    )
    assert [r[1] for r in rows] == ["acct_a", "acct_b"] and rows[0][0] == rows[1][0]
    evidence = json.loads(rows[0][2])
    assert set(evidence) == {"ip_prefix", "payment"}
    assert evidence["payment"]["weight"] == 0.6
    assert "acct_b" not in rows[0][2]  # evidence never names the peer


def test_sign_up_path_bursts_are_a_pool_and_hubs_are_capped(store: Store) -> None:
    _candidate(store, "r1", "acct_a", "acct_b", "registration_burst", 0.9,
               {"key": "signup_path", "value": "self-serve"})  # fmt: skip
    _candidate(store, "r2", "acct_a", "acct_c", "registration_burst", 0.9,
               {"key": "payment_fingerprint", "value": "pm_1"})  # fmt: skip
    for i in range(10):  # a hub: acct_h tied to ten others
        _candidate(store, f"h{i}", "acct_h", f"acct_x{i}", "ip_prefix", 0.5 + i / 100)
    build_links(store, SCAN, top_k=3)
    edges = edge_frame(store, SCAN)
    types = {(a, b): list(t) for a, b, t in zip(edges.a, edges.b, edges.link_types, strict=True)}
    assert types[("acct_a", "acct_b")] == ["registration_path"]
    assert types[("acct_a", "acct_c")] == ["registration_burst"]
    # Each spoke keeps its one edge (it is in the spoke's own top 3), so none is dropped; with
    # top_k=3 an edge survives only while it is among one endpoint's strongest three.
    hub = edges[(edges.a == "acct_h") | (edges.b == "acct_h")]
    assert len(hub) == 10
    store.con.execute("DELETE FROM links")
    for i in range(10):  # the spokes now have stronger ties elsewhere
        for j in range(3):
            _candidate(store, f"s{i}{j}", f"acct_x{i}", f"acct_y{i}{j}", "payment", 0.99)
    build_links(store, SCAN, top_k=3)
    edges = edge_frame(store, SCAN)
    hub = edges[(edges.a == "acct_h") | (edges.b == "acct_h")]
    assert len(hub) == 3  # only the hub's own three strongest remain
    assert sorted(hub.weight.round(4)) == sorted(
        round(TYPE_TRUST["ip_prefix"] * w, 4) for w in (0.57, 0.58, 0.59)
    )


def test_edges_combined_part_by_part_are_the_edges_combined_at_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The large scale combines candidates into edges a part of the accounts at a time
    (``EDGE_PART_ROWS``); parts of two candidates give the edges, weights, kinds and evidence
    one pass gives, and the same top-k cut."""
    import stillwatch.link.graph as graph

    kinds = ["payment", "ip_prefix", "frame", "minhash", "same_minutes"]
    for i in range(40):
        a, b = f"acct_{i % 9}", f"acct_{(i * 7 + 3) % 13}"
        if a != b:
            _candidate(store, f"c{i}", a, b, kinds[i % 5], 0.3 + (i % 7) / 10, {"value": f"v{i}"})
    query = "SELECT link_id, account_id, weight, link_types, CAST(evidence AS VARCHAR) FROM links"
    whole_n = build_links(store, SCAN, top_k=3)
    whole = sorted(store.sql(query))
    store.con.execute("DELETE FROM links")
    monkeypatch.setattr(graph, "EDGE_PART_ROWS", 2)
    assert build_links(store, SCAN, top_k=3) == whole_n > 10
    assert sorted(store.sql(query)) == whole


def test_owned_values_name_their_edges_row_and_pools_name_none(store: Store) -> None:
    _candidate(store, "l1", "acct_a", "acct_b", "payment", 0.6, {"value": "pm_1"})
    _candidate(store, "l2", "acct_a", "acct_b", "ip_prefix", 0.8, {"value": "10.0.0.0/24"})
    _candidate(store, "l3", "acct_c", "acct_d", "ip_prefix", 0.8, {"value": "10.0.1.0/24"})
    _candidate(store, "l4", "acct_a", "acct_c", "same_minutes", 0.7, {"minutes": 9})
    build_links(store, SCAN)
    edges = edge_frame(store, SCAN)
    rows = owned_value_rows(store, SCAN)
    row_of = {(a, b): i for i, (a, b) in enumerate(zip(edges.a, edges.b, strict=True))}
    named = {(int(e), k): w for e, k, w in zip(rows.edge, rows.key, rows.weight, strict=True)}
    # a card names its value, a pair-wise kind the pair; a proxy range (a pool) names nothing
    assert named == {
        (row_of[("acct_a", "acct_b")], "payment:pm_1"): pytest.approx(TYPE_TRUST["payment"] * 0.6),
        (row_of[("acct_a", "acct_c")], "same_minutes:acct_a|acct_c"): pytest.approx(
            TYPE_TRUST["same_minutes"] * 0.7
        ),
    }
    # link types are tuples, one object per combination of kinds
    assert edges.link_types[row_of[("acct_c", "acct_d")]] == ("ip_prefix",)
    # grouped once, the same two frames; the temporary table is gone after
    together, together_rows = edges_and_owned_values(store, SCAN)
    pd.testing.assert_frame_equal(together, edges)
    pd.testing.assert_frame_equal(together_rows, rows)
    assert not store.sql("SELECT 1 FROM duckdb_tables() WHERE table_name = '_sw_edge_rows'")
