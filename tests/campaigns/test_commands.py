"""The campaign commands as a user runs them, on the planted data (hand-written actors, not the
simulator; structural detectors only): the planted campaign is found whole, nothing else is;
``campaigns``, ``explain campaign`` (golden file), ``export members`` (CSV and Parquet),
exit codes; the allowlist and analysts' dismissals are honoured."""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from stillwatch.campaigns.explain import explain_campaign, render_campaign
from stillwatch.campaigns.find import MIN_DISMISSED, AnalystInput
from stillwatch.detectors.registry import detectors
from stillwatch.engine.store import Store, open_store
from stillwatch.ingest import discover, ingest
from stillwatch.pipeline import scan
from tests.cli.test_commands import sw
from tests.planted import planted

GOLDEN = Path(__file__).parent / "golden"
SETTINGS = {"flag_threshold": 0.5, "rules": ""}
STRUCTURAL = [d.id for d in detectors() if not d.id.startswith("content.")]


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("planted-campaigns")
    planted().write(root / "data")
    path = root / "store.duckdb"
    with open_store(path) as store:
        ingest(store, discover([str(root / "data")])[0], batch_rows=500_000,
               max_text_bytes=1 << 20)  # fmt: skip
    with open_store(path) as store:
        scan(store, SETTINGS, only=STRUCTURAL)
    return path


@pytest.fixture
def scanned(store_path: Path) -> Iterator[tuple[Store, str]]:
    with open_store(store_path) as store:
        sid = store.scalar("SELECT scan_id FROM scans ORDER BY finished_at DESC LIMIT 1")
        yield store, sid


def _reported(store: Store, scan_id: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for cid, account in store.sql(
        "SELECT m.campaign_id, m.account_id FROM campaign_members m JOIN campaigns c "
        "USING (scan_id, campaign_id) WHERE m.scan_id = ? AND c.status = 'reported'",
        [scan_id],
    ):
        out.setdefault(cid, set()).add(account)
    return out


def test_the_planted_campaign_is_found_whole_and_sized(scanned: tuple[Store, str]) -> None:
    store, sid = scanned
    found = _reported(store, sid)
    campaign = {f"acct_campaign_{i:03d}" for i in range(13)}
    assert list(found.values()) == [campaign]  # one campaign, exactly its accounts
    (cid,) = found
    n, n_lo, n_hi, ex, ex_lo, ex_hi, member_ex, first, last, op = store.sql(
        "SELECT accounts, accounts_low, accounts_high, exchanges, exchanges_low, "
        "exchanges_high, member_exchanges, first_seen, last_seen, operator_id FROM campaigns "
        "WHERE scan_id = ? AND campaign_id = ?", [sid, cid])[0]  # fmt: skip
    true_ex = store.scalar("SELECT count(*) FROM exchanges WHERE account_id LIKE 'acct_campaign_%'")
    assert n == 13 and n_lo <= 13 <= n_hi
    assert ex_lo <= true_ex <= ex_hi and abs(ex - true_ex) <= 0.05 * true_ex
    assert member_ex == true_ex and op.startswith("op-")
    assert str(first) == "2026-04-22" and str(last) == "2026-04-28"
    flagged = {a for (a,) in store.sql(
        "SELECT account_id FROM account_scores WHERE scan_id = ? AND flagged", [sid])}  # fmt: skip
    assert flagged == campaign
    assert (
        store.scalar(
            "SELECT count(*) FROM campaign_exchanges WHERE scan_id = ? AND campaign_id = ?",
            [sid, cid],
        )
        == ex
    )


def test_explain_campaign_golden(scanned: tuple[Store, str]) -> None:
    store, sid = scanned
    (cid,) = _reported(store, sid)
    text = re.sub(re.escape(sid), "<scan>", "\n".join(render_campaign(
        explain_campaign(store, cid, sid)))) + "\n"  # fmt: skip
    path = GOLDEN / "explain_campaign.txt"
    if os.environ.get("STILLWATCH_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"explain campaign output changed; see {path}"


def test_campaign_commands(store_path: Path, tmp_path: Path) -> None:
    listed = sw("campaigns", "--store", str(store_path), "--format", "json", cwd=tmp_path)
    assert listed.returncode == 1, listed.stderr  # findings
    payload = json.loads(listed.stdout)
    (c,) = payload["campaigns"]
    assert c["accounts"] == 13 and c["status"] == "reported"
    cid = c["campaign_id"]
    explained = sw("explain", "campaign", cid, "--store", str(store_path), cwd=tmp_path)
    assert explained.returncode == 0 and "score" in explained.stdout
    missing = sw("explain", "campaign", "cmp-nope", "--store", str(store_path), cwd=tmp_path)
    assert missing.returncode == 2 and "not in scan" in missing.stderr
    for name in ("members.csv", "members.parquet"):
        out = tmp_path / name
        done = sw("export", "members", cid, "--out", str(out), "--store", str(store_path),
                  cwd=tmp_path)  # fmt: skip
        assert done.returncode == 0, done.stderr
        if name.endswith(".csv"):
            with out.open() as fh:
                rows = list(csv.DictReader(fh))
            ids = {r["account_id"] for r in rows}
            assert all(int(r["campaign_exchanges"]) > 0 for r in rows)
        else:
            ids = set(pq.read_table(out).column("account_id").to_pylist())
        assert ids == {f"acct_campaign_{i:03d}" for i in range(13)}
    bad = sw("export", "members", cid, "--out", str(tmp_path / "m.txt"), "--store",
             str(store_path), cwd=tmp_path)  # fmt: skip
    assert bad.returncode == 2 and ".csv or .parquet" in bad.stderr


def test_allowlist_and_dismissals(store_path: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "s.duckdb"
    shutil.copy(store_path, copy)
    campaign = [f"acct_campaign_{i:03d}" for i in range(13)]
    with open_store(copy) as store:
        # Allowlisted accounts are never members; the rest of the campaign is still found.
        allowed = scan(store, SETTINGS, only=STRUCTURAL,
                       analyst=AnalystInput(allowlisted_accounts=frozenset(campaign[:3])))  # fmt: skip
        members = set().union(*_reported(store, allowed.scan_id).values())
        assert members == set(campaign[3:])
    with open_store(copy) as store:
        # Once analysts dismissed enough accounts, a cluster of mostly dismissed accounts is
        # not reported, and the threshold rises above it.
        others = [a for (a,) in store.sql(
            "SELECT account_id FROM accounts WHERE account_id NOT LIKE 'acct_campaign_%' "
            "ORDER BY account_id LIMIT ?", [MIN_DISMISSED])]  # fmt: skip
        dismissed = scan(store, SETTINGS, only=STRUCTURAL,
                         analyst=AnalystInput(dismissed_accounts=frozenset(campaign + others)))  # fmt: skip
        assert _reported(store, dismissed.scan_id) == {}
        status, score, threshold = store.sql(
            "SELECT status, score, threshold FROM campaigns WHERE scan_id = ? "
            "ORDER BY score DESC LIMIT 1", [dismissed.scan_id])[0]  # fmt: skip
        assert status == "dismissed" and threshold >= score


def test_scan_result_counts_campaigns(scanned: tuple[Store, str]) -> None:
    store, sid = scanned
    summary = json.loads(store.scalar("SELECT summary FROM scans WHERE scan_id = ?", [sid]))
    assert summary["campaigns"] == 1 and summary["flagged"] == 13
    assert summary["threshold"]["threshold"] >= summary["threshold"]["min_score"]
