"""The gateway's risk answer: decisions, allowlist, the latest scan's score; the fast path and
the documented route answer alike."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from stillwatch.engine.store import open_store
from stillwatch.web.app import create_app
from tests.web.conftest import Site, login


def test_risk_reflects_decisions_and_both_paths_agree(site: Site, client: TestClient) -> None:
    bearer = {"Authorization": f"Bearer {site.tokens['analyst']}"}
    url = "/api/v1/accounts/acct-2/risk"
    before = client.get(url, headers=bearer).json()
    assert before["seen_in_store"] and before["action"] is None and not before["allowlisted"]
    client.post("/api/v1/accounts/acct-2/actions", json={"action": "ban", "reason": "r"},
                headers=bearer)  # fmt: skip
    client.post("/api/v1/accounts/acct-2/actions",
                json={"action": "throttle", "reason": "r", "api_key_id": "key-2-0"},
                headers=bearer)  # fmt: skip
    client.post("/api/v1/accounts/acct-2/verdicts", json={"verdict": "confirmed", "note": "n"},
                headers=bearer)  # fmt: skip
    client.post("/api/v1/allowlist", json={"entity_kind": "account", "entity": "acct-2",
                "reason": "r", "days": 3}, headers=bearer)  # fmt: skip
    fast = client.get(url, headers=bearer).json()
    assert fast["action"] == "ban" and fast["key_actions"] == {"key-2-0": "throttle"}
    assert fast["verdict"] == "confirmed" and fast["allowlisted"]
    assert fast["allowlisted_until"] > time.strftime("%Y-%m-%d")
    login(client, "viewer")  # a cookie: served by FastAPI's route, not the fast path
    assert client.get(url).json() == fast
    client.post("/api/v1/accounts/acct-2/actions", json={"action": "reinstate", "reason": "fp"},
                headers=bearer)  # fmt: skip
    assert client.get(url, headers=bearer).json()["action"] is None
    # An account only the casebook knows (forgotten from the store, or never ingested).
    client.post("/api/v1/allowlist", json={"entity_kind": "account", "entity": "ghost",
                "reason": "r"}, headers=bearer)  # fmt: skip
    ghost = client.get("/api/v1/accounts/ghost/risk", headers=bearer).json()
    assert ghost["allowlisted"] and not ghost["seen_in_store"]
    assert client.get("/api/v1/accounts/nobody/risk", headers=bearer).status_code == 404
    assert client.get("/api/v1/accounts/nobody/risk").status_code == 404
    for token in ("sw_bad", ""):
        got = client.get(url, headers={"Authorization": f"Bearer {token}"})
        assert got.status_code == 401


def test_risk_carries_the_latest_scans_score(site: Site) -> None:
    # The scan's tables (docs/store.md): the latest finished scan's scores are served.
    with open_store(site.store) as store:
        store.con.execute(
            """INSERT INTO scans (scan_id, finished_at, status) VALUES
               ('s-old', '2026-05-01 00:00', 'done'), ('s-new', '2026-05-02 00:00', 'done'),
               ('s-running', NULL, 'running'), ('s-failed', '2026-05-03 00:00', 'failed')"""
        )
        store.con.execute(
            """INSERT INTO account_scores (scan_id, account_id, score, top_reasons) VALUES
               ('s-old', 'acct-0', 0.10, '[{"fact": "old"}]'),
               ('s-new', 'acct-0', 0.93, '[{"fact": "shared card"}]'),
               ('s-failed', 'acct-0', 0.50, '[{"fact": "failed scan"}]')"""
        )
    with TestClient(create_app(site.config)) as client:
        bearer = {"Authorization": f"Bearer {site.tokens['viewer']}"}
        risk = client.get("/api/v1/accounts/acct-0/risk", headers=bearer).json()
        assert risk["score"] == 0.93 and risk["scan_id"] == "s-new" and risk["scanned"]
        assert "shared card" in risk["score_reasons"]
        page = client.get("/accounts/acct-0", headers=bearer)
        assert "score 0.93 (scan s-new)" in page.text
        unscored = client.get("/api/v1/accounts/acct-1/risk", headers=bearer).json()
        assert unscored["score"] is None and unscored["scanned"]


def test_graph_aggregates_past_its_node_limit(site: Site) -> None:
    from dataclasses import replace

    bearer = {"Authorization": f"Bearer {site.tokens['viewer']}"}
    with TestClient(create_app(site.config)) as client:
        full = client.get("/api/v1/accounts/acct-1/graph", headers=bearer).json()
    labels = {n["label"]: n["kind"] for n in full["nodes"]}
    assert labels == {
        "acct-1": "self", "key-1-0": "key", "key-1-1": "key", "203.0.113.0/24": "network",
        "ja3-1": "tls", "card-77": "payment", "acct-0": "account",
    }  # fmt: skip
    assert full["aggregated"] == 0
    with TestClient(create_app(replace(site.config, graph_max_nodes=4))) as client:
        small = client.get("/api/v1/accounts/acct-1/graph", headers=bearer).json()
    assert "acct-0" not in {n["label"] for n in small["nodes"]}
    assert small["aggregated"] == 2  # acct-0 behind the /24 and behind the card
    assert {n["label"] for n in small["nodes"] if n["kind"] == "more"} == {"+1 accounts"}
