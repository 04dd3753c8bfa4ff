"""In a real browser (Debian's Chromium): open the campaigns list, open the planted campaign,
check its graph through cytoscape's API and a non-blank screenshot, record a verdict and take
an action on the campaign. Screenshots go to ``runs/browser/<time>/``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.web.campaign_site import CAMPAIGN_ACCOUNTS, campaign_site
from tests.web.conftest import PASSWORD
from tests.web.live import running_server
from tests.web.test_browser import ARGS, CHROMIUM, RUNS, png_pixels

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is missing: bash scripts/install.sh"
)


def test_open_a_campaign_graph_and_decide(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    site = campaign_site(tmp_path)
    shots = RUNS / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    shots.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with running_server(site.store, site.casebook, tmp_path / "server.log") as server, \
            sync_playwright() as pw:  # fmt: skip
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(server.url + "/login")
            page.fill("input[name=username]", "analyst")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            rows = page.locator("#campaigns tbody tr")
            expect(rows).to_have_count(1)
            page.screenshot(path=str(shots / "campaigns.png"), full_page=True)
            rows.first.locator("a").first.click()
            expect(page.locator("#campaign-id")).to_contain_text("cmp-")
            expect(page.locator("#summary")).to_contain_text("through 13 accounts")
            expect(page.locator(".graph canvas").first).to_be_attached()
            page.wait_for_timeout(500)  # cose runs to the end before it draws
            assert page.evaluate("stillwatchGraph.nodes().length") == 13
            assert page.evaluate("stillwatchGraph.edges().length") > 12
            labels = page.evaluate("stillwatchGraph.nodes().map(n => n.data('label'))")
            assert set(labels) == CAMPAIGN_ACCOUNTS
            graph_png = page.locator(".graph").screenshot(path=str(shots / "campaign-graph.png"))
            assert len(png_pixels(graph_png)[2]) > 5, "the graph drew nothing"
            expect(page.locator("#timeline svg rect")).not_to_have_count(0)

            page.select_option("#verdict-form select[name=verdict]", "confirmed")
            page.fill("#verdict-form textarea[name=note]", "one operator's card pool")
            page.click("#verdict-form button[type=submit]")
            expect(page.locator("#current-verdict")).to_have_text("confirmed")
            page.select_option("#action-form select[name=action]", "throttle")
            page.fill("#action-form textarea[name=reason]", "while partners confirm")
            page.click("#action-form button[type=submit]")
            expect(page.locator("#current-action")).to_contain_text("throttle (13 accounts)")
            shot = page.screenshot(path=str(shots / "campaign.png"), full_page=True)
            width, height, pixels = png_pixels(shot)
            assert width >= 1280 and height >= 900 and len(pixels) > 20, "blank page"

            page.locator("#members a", has_text="acct_campaign_003").click()
            expect(page.locator("#account-id")).to_have_text("acct_campaign_003")
            expect(page.locator("#current-action")).to_have_text("throttle")
        finally:
            browser.close()
    assert not problems, problems  # no script errors, no CSP violations
