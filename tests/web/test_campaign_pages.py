"""The campaign pages and their API on a store with a real campaign: the list (figures equal
to the store's, sorting, filtering), the campaign page (summary, graph capped with the rest
aggregated, timeline, evidence, members linking to accounts), verdicts and actions on a
campaign (one action row per member, one audit row, the risk endpoint sees it)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stillwatch.engine.casebook import open_casebook
from stillwatch.engine.store import open_store
from stillwatch.web.app import create_app
from stillwatch.web.context import WebConfig
from tests.web.campaign_site import CAMPAIGN_ACCOUNTS, campaign_site
from tests.web.conftest import Site, login


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return campaign_site(tmp_path_factory.mktemp("campaign-site"))


@pytest.fixture
def site(template: Site, tmp_path: Path) -> Site:
    shutil.copytree(template.store.parent, tmp_path / "site")
    store = tmp_path / "site" / template.store.name
    casebook = tmp_path / "site" / template.casebook.name
    return Site(store, casebook, replace(template.config, store=store, casebook=casebook),
                dict(template.tokens))  # fmt: skip


def _client(site: Site, **config: object) -> Iterator[TestClient]:
    with TestClient(create_app(replace(site.config, **config)), follow_redirects=False) as c:  # type: ignore[arg-type]
        yield c


@pytest.fixture
def client(site: Site) -> Iterator[TestClient]:
    yield from _client(site)


def bearer(site: Site, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {site.tokens[role]}"}


def store_campaigns(site: Site) -> list[tuple]:
    with open_store(site.store, read_only=True, create=False) as store:
        return store.sql(
            """SELECT campaign_id, status, score, accounts, exchanges FROM campaigns
               WHERE scan_id = (SELECT scan_id FROM scans WHERE status = 'done'
                                ORDER BY finished_at DESC LIMIT 1)"""
        )


def reported(site: Site) -> tuple:
    (row,) = [r for r in store_campaigns(site) if r[1] == "reported"]
    return row


def test_the_list_shows_the_store_figures_sorted_and_filtered(
    site: Site, client: TestClient
) -> None:
    cid, _, score, accounts, exchanges = reported(site)
    login(client, "viewer")
    page = client.get("/campaigns")
    assert page.status_code == 200
    row = re.search(rf'<tr><td><a href="/campaigns/{cid}">{cid}</a>.*?</tr>', page.text, re.S)
    assert row, page.text
    assert f"{accounts:,}" in row[0] and f"{exchanges:,}" in row[0] and f"{score:.2f}" in row[0]

    # Two near misses beside the planted campaign, so that sorting and filtering have rows to
    # order (the planted data yields one cluster).
    with open_store(site.store) as store:
        for i, near in enumerate((0.31, 0.42)):
            store.con.execute(
                """INSERT INTO campaigns (scan_id, campaign_id, score, threshold, status, accounts,
                   accounts_low, accounts_high, evidence)
                   SELECT scan_id, ?, ?, threshold, 'candidate', ?, ?, ?, '{}' FROM campaigns
                   WHERE campaign_id = ?""",
                [f"cmp-near{i}", near, 3 + i, 3 + i, 3 + i, cid],
            )
    api = client.get("/api/v1/campaigns", params={"status": "all", "sort": "score", "order": "asc"})
    listed = api.json()["campaigns"]
    everything = store_campaigns(site)
    assert len(listed) == len(everything) == 3  # candidates too
    assert [c["score"] for c in listed] == sorted(r[2] for r in everything) == [0.31, 0.42, score]
    assert [c["campaign_id"] for c in client.get(
        "/api/v1/campaigns", params={"status": "candidate", "sort": "accounts"}).json()[
        "campaigns"]] == ["cmp-near1", "cmp-near0"]  # fmt: skip
    assert {c["campaign_id"]: c["accounts"] for c in listed} == {r[0]: r[3] for r in everything}

    only = client.get("/api/v1/campaigns", params={"status": "all", "q": cid[4:9]}).json()
    assert [c["campaign_id"] for c in only["campaigns"]] == [cid]
    none = client.get("/campaigns", params={"q": "no-such-id"})
    assert "No campaign matches these filters" in none.text
    high = client.get("/api/v1/campaigns", params={"status": "all", "min_score": 0.99}).json()
    assert all(c["score"] >= 0.99 for c in high["campaigns"])
    bad = client.get("/api/v1/campaigns", params={"sort": "score; DROP TABLE campaigns"})
    assert bad.status_code == 422 and "sort" in bad.json()["error"]


def test_the_campaign_page(site: Site, client: TestClient) -> None:
    cid, _, _, accounts, exchanges = reported(site)
    login(client, "viewer")
    page = client.get(f"/campaigns/{cid}")
    assert page.status_code == 200
    text = page.text
    assert f"{exchanges:,} exchanges" in text and f"through {accounts} accounts" in text
    members = set(re.findall(r'<td><a href="/accounts/(acct_[a-z_0-9]+)">', text))
    assert members == CAMPAIGN_ACCOUNTS  # the members table links every member
    graph = json.loads(re.search(r"data-graph='([^']*)'", text)[1].replace("&#34;", '"'))
    assert {n["label"] for n in graph["nodes"]} == CAMPAIGN_ACCOUNTS
    assert len(graph["edges"]) > 12  # members are tied to each other
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in text  # the timeline, drawn
    assert "payment" in text and "registration path" in text  # what they share
    assert "verdict-form" not in text  # a viewer cannot decide
    assert client.get("/campaigns/cmp-0000000000").status_code == 404
    assert client.get("/api/v1/campaigns/cmp-0000000000/members").status_code == 404


def test_a_large_campaign_graph_is_capped_and_aggregated(site: Site) -> None:
    cid = reported(site)[0]
    for c in _client(site, graph_max_nodes=6):
        got = c.get(f"/api/v1/campaigns/{cid}", headers=bearer(site, "viewer")).json()
    graph = got["graph"]
    assert len(graph["nodes"]) <= 6 and graph["drawn"] == 4
    assert graph["aggregated"] == 13 - 4 == graph["members"] - graph["drawn"]
    (more,) = [n for n in graph["nodes"] if n["kind"] == "more"]
    assert more["label"] == "+9 core accounts"
    tied = [e for e in graph["edges"] if e["source"] == more["id"]]
    assert tied and sum(e["count"] for e in tied) > 0


def test_verdict_and_action_on_a_campaign(site: Site, client: TestClient) -> None:
    cid = reported(site)[0]
    csrf = login(client, "analyst")
    done = client.post(f"/campaigns/{cid}/verdict",
                       data={"verdict": "confirmed", "note": "one card pool", "csrf_token": csrf})  # fmt: skip
    assert done.status_code == 303
    done = client.post(f"/campaigns/{cid}/action",
                       data={"action": "suspend", "reason": "confirmed campaign",
                             "members": "all", "csrf_token": csrf})  # fmt: skip
    assert done.status_code == 303
    page = client.get(f"/campaigns/{cid}").text
    assert 'id="current-verdict">confirmed' in page and "suspend</b> on 13 accounts" in page
    risk = client.get("/api/v1/accounts/acct_campaign_004/risk", headers=bearer(site, "viewer"))
    assert risk.json()["action"] == "suspend"
    with open_casebook(site.casebook) as book:
        acted = {r[0] for r in book.rows("SELECT account_id FROM actions WHERE action = 'suspend'")}
        audit = book.rows("SELECT entity_kind, entity_id, detail FROM audit WHERE event = 'action'")
    assert acted == CAMPAIGN_ACCOUNTS
    assert [(a[0], a[1]) for a in audit] == [("campaign", cid)]  # one row for the campaign
    assert json.loads(audit[0][2])["accounts"] == 13
    back = client.post(f"/api/v1/campaigns/{cid}/actions", headers=bearer(site, "analyst"),
                       json={"action": "reinstate", "reason": "false positive"})  # fmt: skip
    assert back.status_code == 201 and back.json()["accounts"] == 13
    again = client.post(f"/api/v1/campaigns/{cid}/actions", headers=bearer(site, "analyst"),
                        json={"action": "reinstate", "reason": "twice"})  # fmt: skip
    assert again.status_code == 422 and "nothing to reinstate" in again.json()["error"]
    members = client.get(f"/api/v1/campaigns/{cid}/members", headers=bearer(site, "viewer"))
    assert members.json()["members"] == 13
    assert {m["account_id"] for m in members.json()["accounts"]} == CAMPAIGN_ACCOUNTS


def test_a_25000_account_campaign_opens(tmp_path: Path) -> None:
    from stillwatch.web.users import add_user
    from tests.report.large import CAMPAIGN, large_campaign_store
    from tests.web.conftest import PASSWORD

    store = large_campaign_store(tmp_path / "large.duckdb")
    casebook = tmp_path / "large.casebook.sqlite"
    with open_casebook(casebook) as book:
        add_user(book, "viewer", "viewer", PASSWORD, actor="test")
    config = WebConfig(store=store, casebook=casebook, risk_poll_seconds=0.2, graph_max_nodes=300)
    with TestClient(create_app(config), follow_redirects=False) as c:
        login(c, "viewer")
        page = c.get(f"/campaigns/{CAMPAIGN}")
        assert page.status_code == 200
        graph = json.loads(re.search(r"data-graph='([^']*)'", page.text)[1].replace("&#34;", '"'))
        assert len(graph["nodes"]) == 300 and graph["members"] == 25_000
        assert graph["aggregated"] == 25_000 - graph["drawn"]
        labels = {n["label"] for n in graph["nodes"] if n["kind"] == "more"}
        assert labels == {"+19,702 core accounts", "+5,000 peripheral accounts"}
        assert "50,000 exchanges" in page.text
        members = c.get(f"/api/v1/campaigns/{CAMPAIGN}/members", params={"limit": 100_000})
        assert len(members.json()["accounts"]) == 25_000


def test_a_campaign_without_account_facts_says_not_measured(site: Site) -> None:
    """Logs without an accounts or enforcements table: the page says the account group was
    not measured rather than showing "not organic 0.00"."""
    cid = reported(site)[0]
    with open_store(site.store) as store:
        store.con.execute(
            "UPDATE campaigns SET evidence = "
            "json_merge_patch(evidence, '{\"account_measured\": false}') WHERE campaign_id = ?",
            [cid],
        )
    for c in _client(site):
        login(c, "viewer")
        text = c.get(f"/campaigns/{cid}").text
        assert "not organic: not measured" in text
        assert "not organic 0.00" not in text
