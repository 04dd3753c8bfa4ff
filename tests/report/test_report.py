"""``stillwatch report`` as a user runs it, on the planted data set scanned with every detector
(one 13-account campaign): HTML, Markdown and JSON; the numbers are the store's, the pictures
are there and well-formed, prompt text appears only with ``--show-text``; exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from stillwatch.engine.store import open_store
from stillwatch.report.frame import prompt_view, segments
from tests.web.campaign_site import CAMPAIGN_ACCOUNTS, scanned_store

PROMPT_WORDS = ("Solve problem", "complete reasoning")  # the planted campaign's frame


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stillwatch", "report", *args],
        capture_output=True, text=True, env=dict(os.environ), check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scanned_store(tmp_path_factory.mktemp("report-store"))


@pytest.fixture(scope="module")
def truth(store: Path) -> dict[str, object]:
    """What the store says about the reported campaign."""
    with open_store(store, read_only=True, create=False) as s:
        sid = s.scalar("SELECT scan_id FROM scans ORDER BY finished_at DESC LIMIT 1")
        cid, ex, lo, hi, acc, first, last, op = s.sql(
            "SELECT campaign_id, exchanges, exchanges_low, exchanges_high, accounts, first_seen, "
            "last_seen, operator_id FROM campaigns WHERE scan_id = ? AND status = 'reported'",
            [sid],
        )[0]
        daily = dict(
            s.sql(
                "SELECT CAST(day AS VARCHAR), count(*) FROM campaign_exchanges "
                "WHERE scan_id = ? GROUP BY day",
                [sid],
            )
        )
        total = s.scalar("SELECT count(*) FROM exchanges")
    return {"scan": sid, "id": cid, "exchanges": ex, "low": lo, "high": hi, "accounts": acc,
            "first": str(first), "last": str(last), "operator": op, "daily": daily,
            "total": total}  # fmt: skip


def test_html_report(store: Path, truth: dict, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    done = run("--store", str(store), "--out", str(out))
    assert done.returncode == 1, done.stderr  # a campaign reported: findings
    html = out.read_text()
    summary = (
        f"{truth['exchanges']:,} exchanges ({truth['low']:,}–{truth['high']:,}) through "
        f"{truth['accounts']} accounts"
    )
    assert summary in html and summary in done.stdout
    assert f"between {truth['first']} and {truth['last']}" in html
    assert f"linked to operator {truth['operator']}" in html
    assert "targeting reasoning-math (100% of members)" in html
    opening = html.index('id="summary"')
    assert opening < html.index("<svg")  # the summary opens the report
    pictures = re.findall(r"<svg .*?</svg>", html, re.S)
    assert len(pictures) == 6
    for p in pictures:
        ET.fromstring(p)  # well-formed
    # The daily chart's bars are the store's campaign exchanges per day.
    bars = re.findall(r"<title>(\d{4}-\d\d-\d\d): ([\d,]+) campaign</title>", html)
    assert {d: int(n.replace(",", "")) for d, n in bars} == truth["daily"]
    graph = next(p for p in pictures if "account graph" in p)
    assert graph.count("<circle") == 13 and all(a in graph for a in CAMPAIGN_ACCOUNTS)
    assert "<script" not in html and not re.search(r'(src|href)="https?:', html)
    assert not any(w in html for w in PROMPT_WORDS), "prompt text in a redacted report"
    assert "redacted: 6" in html  # the shape of each sample instead


def test_show_text_highlights_the_frame(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert run("--store", str(store), "--out", str(out), "--show-text").returncode == 1
    html = out.read_text()
    assert "<mark>Solve problem </mark>" in html
    assert "<mark> and show your complete reasoning step by step.</mark>" in html
    assert re.search(r'<span class="slot" title="&lt;num&gt;">\d+</span>', html)


def test_markdown_report_links_svg_files_beside_it(
    store: Path, truth: dict, tmp_path: Path
) -> None:
    out = tmp_path / "report.md"
    done = run("--store", str(store), "--out", str(out), "--campaign", str(truth["id"]))
    assert done.returncode == 1, done.stderr
    md = out.read_text()
    assert md.startswith("# Distillation campaigns: report")
    assert f"**{truth['id']}**: {truth['exchanges']:,} exchanges" in md
    links = re.findall(r"!\[[^\]]*\]\(([^)]+\.svg)\)", md)
    assert len(links) == 6
    for link in links:
        picture = tmp_path / link
        assert picture.exists(), link
        root = ET.fromstring(picture.read_text())
        assert root.tag.endswith("svg") and len(root) > 3
    assert not any(w in md for w in PROMPT_WORDS)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["report.md", *links])


def test_json_report_numbers_add_up(store: Path, truth: dict, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    assert run("--store", str(store), "--out", str(out)).returncode == 1
    data = json.loads(out.read_text())
    (r,) = data["reports"]
    c = r["campaign"]
    assert (c["campaign_id"], c["exchanges"], c["accounts"]) == (
        truth["id"], truth["exchanges"], truth["accounts"])  # fmt: skip
    daily = r["daily"]
    assert {d["day"]: d["campaign"] for d in daily if d["campaign"]} == truth["daily"]
    assert sum(d["campaign"] + d["legitimate"] for d in daily) == truth["total"]
    assert sum(map(sum, r["rhythm"]["campaign"])) == truth["exchanges"]
    assert sum(map(sum, r["rhythm"]["legitimate"])) == truth["total"] - truth["exchanges"]
    assert sum(p["exchanges"] for p in r["infrastructure"]["prefixes"]) == truth["exchanges"]
    assert {k["kind"]: k["campaign"] for k in r["infrastructure"]["asn_kinds"]}["hosting"] == 1.0
    assert {m["account_id"] for m in r["members"]} == CAMPAIGN_ACCOUNTS
    assert r["graph"]["members"] == 13 and len(r["graph"]["edges"]) > 12
    assert all(s["segments"] is None and s["chars"] > 0 for s in r["samples"])
    assert not any(w in out.read_text() for w in PROMPT_WORDS)


def test_exit_codes_and_one_line_errors(store: Path, tmp_path: Path) -> None:
    bad = run("--store", str(store), "--out", str(tmp_path / "report.pdf"))
    assert (
        bad.returncode == 2 and bad.stderr.count("\n") == 1 and ".html, .md or .json" in bad.stderr
    )
    unknown = run("--store", str(store), "--out", str(tmp_path / "r.html"), "--campaign", "cmp-x")
    assert unknown.returncode == 2 and "cmp-x" in unknown.stderr and unknown.stderr.count("\n") == 1
    assert not (tmp_path / "r.html").exists()
    missing = run("--store", str(tmp_path / "none.duckdb"), "--out", str(tmp_path / "r.html"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    nofolder = run("--store", str(store), "--out", str(tmp_path / "no" / "r.html"))
    assert nofolder.returncode == 2 and "does not exist" in nofolder.stderr


def test_a_scan_without_campaigns_exits_0(tmp_path: Path) -> None:
    from stillwatch.pipeline import scan
    from tests.web.conftest import make_store

    path = make_store(tmp_path / "small")
    with open_store(path) as s:
        scan(s, {"flag_threshold": 0.5, "rules": ""})
    out = tmp_path / "none.html"
    done = run("--store", str(path), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert 'id="no-campaigns"' in out.read_text()


def test_frame_and_slots() -> None:
    text = 'Grade answer "x = 4" to question 12 by Alice Smith; see https://a.example/q?7'
    parts = segments(text)
    assert "".join(p["text"] for p in parts) == text
    assert [(p["text"], p["kind"]) for p in parts if p["slot"]] == [
        ('"x = 4"', "<str>"), ("12", "<num>"), ("Alice Smith", "<name>"),
        ("https://a.example/q?7", "<url>"),
    ]  # fmt: skip
    shape = prompt_view(text, show_text=False)
    assert shape["segments"] is None and shape["chars"] == len(text)
    assert shape["slots"] == {"<str>": 1, "<num>": 1, "<name>": 1, "<url>": 1}
    assert "Alice" not in json.dumps(shape)
