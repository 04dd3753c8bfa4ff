"""The README's demo as a user runs it: ``bash scripts/demo.sh`` (with ``--days 4``, which the
README documents, to keep CI short), then the dashboard command it prints, run as printed,
and a login in Chromium with the credential it printed once. Screenshots go to
``runs/browser/<time>/``."""

from __future__ import annotations

import os
import re
import shlex
import sqlite3
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.web.live import free_port
from tests.web.test_browser import ARGS, CHROMIUM, RUNS, png_pixels

ROOT = Path(__file__).resolve().parents[2]
README_DEMO = "bash scripts/demo.sh"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is missing: bash scripts/install.sh"
)


def test_readme_demo_then_log_in_with_the_printed_credential(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    readme = (ROOT / "README.md").read_text()
    assert README_DEMO in readme and "--days N" in readme  # the command and the flag, as documented
    workdir = tmp_path / "demo"
    done = subprocess.run(
        [*shlex.split(README_DEMO), "--days", "4", "--workdir", str(workdir)],
        cwd=ROOT, capture_output=True, text=True, timeout=1200, check=False,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert (workdir / "report.html").exists() and f"wrote the report {workdir}/report.html" in out
    report = (workdir / "report.html").read_text()
    assert report.count("<svg") >= 6 and 'class="summary"' in report
    command = re.search(r"^\s*(stillwatch serve .+)$", out, re.M)
    credential = re.search(r"log in as (\S+) with the password (\S+) \(shown once", out)
    assert command and credential, out[-3000:]
    username, password = credential[1], credential[2]
    con = sqlite3.connect(f"file:{workdir / 'stillwatch.casebook.sqlite'}?mode=ro", uri=True)
    try:
        stored = con.execute(
            "SELECT password_hash FROM users WHERE username = ?", (username,)
        ).fetchall()
    finally:
        con.close()
    assert stored and stored[0][0].startswith("$argon2id$") and password not in stored[0][0]

    # The printed command, as printed ("stillwatch" is the venv's), on a free port.
    argv = shlex.split(command[1])
    argv[0] = str(Path(sys.executable).with_name("stillwatch"))
    port = free_port()
    log = tmp_path / "server.log"
    shots = RUNS / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    shots.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with log.open("wb") as sink:
        server = subprocess.Popen(
            argv, stdout=sink, stderr=subprocess.STDOUT,
            env={**os.environ, "STILLWATCH_WEB_PORT": str(port)},
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url + "/api/v1/health", server, log)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
            try:
                page = browser.new_page(viewport={"width": 1024, "height": 700})
                page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: problems.append(str(e)))
                page.goto(url + "/")
                page.fill("input[name=username]", username)
                page.fill("input[name=password]", password)
                page.click("button[type=submit]")
                expect(page.locator("header .who")).to_have_text(f"{username} (admin)")
                rows = page.locator("#campaigns tbody tr")
                expect(rows.first).to_be_visible()
                assert rows.count() >= 2  # the demo's planted operators are found
                page.screenshot(path=str(shots / "demo-campaigns.png"))
                rows.first.locator("a").first.click()
                expect(page.locator("#summary")).to_contain_text("exchanges")
                expect(page.locator(".graph canvas").first).to_be_attached()
                page.wait_for_timeout(1000)
                assert page.evaluate("stillwatchGraph.nodes().length") > 2
                shot = page.screenshot(path=str(shots / "demo-campaign.png"))
                assert len(png_pixels(shot)[2]) > 20, "blank page"
            finally:
                browser.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert not problems, problems
    assert password not in log.read_text()  # never in the server's log


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError("the printed command did not serve:\n" + log.read_text())
        time.sleep(0.2)
