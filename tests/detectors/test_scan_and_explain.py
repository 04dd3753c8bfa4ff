"""``stillwatch scan`` and ``stillwatch explain account`` as a user runs them: exit codes, the
scan record, same input → same output, and explain's words pinned by golden files."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from stillwatch.detectors.explain import explain_account, render_text
from stillwatch.engine.store import Store, open_store
from stillwatch.pipeline import ScanResult, latest_scan, scan
from tests.cli.test_commands import sw
from tests.detectors.conftest import ingest_folder
from tests.planted import Planted

GOLDEN = Path(__file__).parent / "golden"
RESULT_QUERIES = {
    "account_features": "SELECT * EXCLUDE (scan_id) FROM account_features WHERE scan_id = ? "
    "ORDER BY account_id",
    "account_days": "SELECT * EXCLUDE (scan_id) FROM account_days WHERE scan_id = ? "
    "ORDER BY account_id, day",
    "signals": "SELECT * EXCLUDE (scan_id) FROM signals WHERE scan_id = ? "
    "ORDER BY detector, account_id",
    "link_candidates": "SELECT * EXCLUDE (scan_id) FROM link_candidates WHERE scan_id = ? "
    "ORDER BY link_id, account_id",
    "account_scores": "SELECT * EXCLUDE (scan_id) FROM account_scores WHERE scan_id = ? "
    "ORDER BY account_id",
    "links": "SELECT * EXCLUDE (scan_id) FROM links WHERE scan_id = ? ORDER BY link_id, account_id",
    "campaigns": "SELECT * EXCLUDE (scan_id, first_scan_id) FROM campaigns WHERE scan_id = ? "
    "ORDER BY campaign_id",
    "campaign_members": "SELECT * EXCLUDE (scan_id) FROM campaign_members WHERE scan_id = ? "
    "ORDER BY campaign_id, account_id",
    "campaign_exchanges": "SELECT * EXCLUDE (scan_id) FROM campaign_exchanges WHERE scan_id = ? "
    "ORDER BY event_id",
    "operators": "SELECT * EXCLUDE (scan_id, first_scan_id) FROM operators WHERE scan_id = ? "
    "ORDER BY operator_id",
}


def test_scan_is_recorded_and_repeatable(scanned: tuple[Store, ScanResult]) -> None:
    store, first = scanned
    again = scan(store, {"flag_threshold": 0.5, "rules": ""}, only=list(first.detectors))
    assert again.scan_id != first.scan_id
    for table, query in RESULT_QUERIES.items():
        a, b = store.sql(query, [first.scan_id]), store.sql(query, [again.scan_id])
        assert a == b and (a or table == "link_candidates"), table
    status, inputs, settings, detectors, summary = store.sql(
        "SELECT status, inputs, settings, detectors, summary FROM scans WHERE scan_id = ?",
        [first.scan_id],
    )[0]
    assert status == "done"
    assert json.loads(inputs)["rows"]["exchanges"] > 0
    assert json.loads(settings)["flag_threshold"] == 0.5
    ran = json.loads(detectors)
    assert ran["infrastructure.shared-rare"]["version"] == "3"
    assert json.loads(summary)["flagged"] == first.flagged > 0
    # each stage's resident high-water mark, recorded beside its time (Linux keeps the marks)
    marks = json.loads(summary)["peak_mb"]
    stages = {"features", "signals", "scores", "links", "campaigns", "leiden", "cluster", "size"}
    assert set(marks) == stages and marks == first.peak_mb
    if marks["features"] is not None:
        assert all(50 < marks[s] < 20_000 for s in stages)
        assert marks["signals"] == max(v["peak_mb"] for v in ran.values() if v["ran"])


def _normalized(lines: list[str], scan_id: str) -> str:
    return re.sub(re.escape(scan_id), "<scan>", "\n".join(lines)) + "\n"


@pytest.mark.parametrize("account", ["acct_campaign_003", "acct_fleet_002", "acct_power_000"])
def test_explain_golden(scanned: tuple[Store, ScanResult], account: str) -> None:
    store, result = scanned
    text = _normalized(render_text(explain_account(store, account, result.scan_id)), result.scan_id)
    path = GOLDEN / f"explain_{account}.txt"
    if os.environ.get("STILLWATCH_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"explain output changed; see {path}"


def test_explain_says_why_a_look_alike_is_not_flagged_and_redacts_text(
    scanned: tuple[Store, ScanResult],
) -> None:
    store, result = scanned
    fleet = explain_account(store, "acct_fleet_002", result.scan_id)
    assert not fleet["flagged"]
    assert "account scores 0.00" in fleet["why_not_flagged"]
    assert "verified True" in fleet["why_not_flagged"]
    assert "sample_prompts" not in fleet
    shown = explain_account(store, "acct_campaign_003", result.scan_id, show_text=True)
    assert shown["sample_prompts"] and "reasoning step by step" in shown["sample_prompts"][0]
    assert latest_scan(store).startswith("scan-")


def test_scan_exit_codes(planted_data: Planted, tmp_path: Path) -> None:
    campaign = planted_data.write(tmp_path / "all")
    ordinary = Planted()
    ordinary.humans("user", 30, offset=-6, ip=lambda i: f"73.{i}.1.{i + 1}", asn=7922,
                    created_days=200)  # fmt: skip
    quiet = ordinary.write(tmp_path / "quiet")
    for folder, code in ((campaign, 1), (quiet, 0)):
        store = tmp_path / f"{folder.name}.duckdb"
        assert sw("ingest", str(folder), "--store", str(store), cwd=tmp_path).returncode == 0
        done = sw("scan", "--store", str(store), "--format", "json", cwd=tmp_path)
        assert done.returncode == code, done.stderr
        payload = json.loads(done.stdout)
        assert (payload["flagged"] > 0) == (code == 1)
    explained = sw("explain", "account", "acct_campaign_000", "--store",
                   str(tmp_path / "all.duckdb"), cwd=tmp_path)  # fmt: skip
    assert explained.returncode == 0 and "FLAGGED" in explained.stdout
    missing = sw("explain", "account", "nobody", "--store", str(tmp_path / "all.duckdb"),
                 cwd=tmp_path)  # fmt: skip
    assert missing.returncode == 2 and "not in scan" in missing.stderr
    empty = sw("scan", "--store", str(tmp_path / "none.duckdb"), cwd=tmp_path)
    assert empty.returncode == 2 and empty.stderr.count("\n") == 1


def test_failed_scan_is_recorded(tmp_path: Path, planted_data: Planted, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    folder = planted_data.write(tmp_path / "d")
    with open_store(tmp_path / "s.duckdb") as store:
        ingest_folder(store, folder)

        def boom(*_: object) -> None:
            raise RuntimeError("detector exploded")

        from stillwatch.detectors import infrastructure

        monkeypatch.setattr(infrastructure.SharedInfrastructure, "run", boom)
        with pytest.raises(RuntimeError):
            scan(store, {"flag_threshold": 0.5})
        status, error = store.sql("SELECT status, error FROM scans")[0]
        assert status == "failed" and "detector exploded" in error
        assert store.scalar("SELECT count(*) FROM signals") == 0  # rolled back
        # a scan whose process was killed left its row "running"; the next scan says so
        store.con.execute("INSERT INTO scans (scan_id, started_at, status) "
                          "VALUES ('scan-killed', now(), 'running')")  # fmt: skip
        monkeypatch.undo()
        scan(store, {"flag_threshold": 0.5})
        assert dict(store.sql("SELECT status, count(*) FROM scans GROUP BY ALL")) == {
            "failed": 2, "done": 1}  # fmt: skip
        killed = store.scalar("SELECT error FROM scans WHERE scan_id = 'scan-killed'")
        assert killed.startswith("interrupted")
