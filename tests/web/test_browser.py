"""In a real browser (Debian's Chromium driven by Playwright, never a downloaded browser): log
in, open an account, record a verdict, take an action, find both in the audit log.

Screenshots go to ``runs/browser/<time>/`` (gitignored)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.web.conftest import PASSWORD, make_site
from tests.web.live import running_server

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
RUNS = Path(__file__).resolve().parents[2] / "runs" / "browser"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is missing: bash scripts/install.sh"
)


def png_pixels(png: bytes) -> tuple[int, int, set[bytes]]:
    """Width, height and the distinct RGB(A) pixels of a PNG (8-bit, colour types 2 or 6)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, data, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, body = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            data += body
        pos += 12 + length
    raw = zlib.decompress(data)
    stride = width * channels
    previous = bytearray(stride)
    pixels: set[bytes] = set()
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pred) & 255
        if row % 4 == 0:  # a sample of rows is plenty to tell a page from a blank
            pixels.update(bytes(line[i : i + 3]) for i in range(0, stride, channels * 2))
        previous = line
    return width, height, pixels


@pytest.fixture
def browser_page(tmp_path: Path) -> Iterator[tuple[object, str, Path]]:
    from playwright.sync_api import sync_playwright

    site = make_site(tmp_path)
    shots = RUNS / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    shots.mkdir(parents=True, exist_ok=True)
    with running_server(site.store, site.casebook, tmp_path / "server.log") as server, \
            sync_playwright() as pw:  # fmt: skip
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            yield page, server.url, shots
        finally:
            browser.close()


def test_log_in_decide_act_and_audit(browser_page: tuple[object, str, Path]) -> None:
    from playwright.sync_api import Page, expect

    page, url, shots = browser_page
    assert isinstance(page, Page)
    requests: list[str] = []
    problems: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    page.goto(url + "/accounts/acct-1")  # not logged in: sent to the login page
    expect(page).to_have_url(url + "/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#no-scan")).to_be_visible()  # the campaigns page, before any scan
    assert str(page.evaluate("htmx.version")).startswith("2.")

    page.fill("header form.search input[name=q]", "203.0.113.0/24")
    page.press("header form.search input[name=q]", "Enter")
    page.get_by_role("link", name="acct-1", exact=True).click()
    expect(page.locator("#account-id")).to_have_text("acct-1")
    expect(page.locator("#exchanges tbody tr")).to_have_count(10)
    expect(page.locator("#exchanges")).to_contain_text("redacted")
    expect(page.locator("#current-verdict")).to_have_text("no verdict")
    # The graph, through cytoscape's API: itself, 2 keys, its /24, TLS and payment
    # fingerprints, and acct-0, which shares the /24 and the card.
    expect(page.locator(".graph canvas").first).to_be_attached()  # (our CSP forbids the
    # string eval that page.wait_for_function would need)
    assert page.evaluate("stillwatchGraph.nodes().length") == 7
    assert page.evaluate("stillwatchGraph.$id('a:acct-0').degree()") == 2
    assert page.evaluate("stillwatchGraph.$id('network:203.0.113.0/24').degree()") == 2
    graph_png = page.locator(".graph").screenshot(path=str(shots / "graph.png"))
    assert len(png_pixels(graph_png)[2]) > 5, "the graph drew nothing"

    page.select_option("#verdict-form select[name=verdict]", "confirmed")
    page.fill("#verdict-form textarea[name=note]", "shares card-77 with acct-0")
    page.click("#verdict-form button[type=submit]")
    expect(page.locator("#current-verdict")).to_have_text("confirmed")

    page.select_option("#action-form select[name=action]", "suspend")
    page.fill("#action-form textarea[name=reason]", "member of the card-77 cluster")
    page.click("#action-form button[type=submit]")
    expect(page.locator("#current-action")).to_have_text("suspend")
    page.screenshot(path=str(shots / "account.png"), full_page=True)

    page.click("header nav >> text=Audit")
    rows = page.locator("#audit tbody tr")
    expect(rows.first).to_contain_text("action")
    expect(rows.first).to_contain_text("member of the card-77 cluster")
    expect(rows.nth(1)).to_contain_text("verdict")
    expect(rows.nth(1)).to_contain_text("shares card-77 with acct-0")
    expect(rows.nth(2)).to_contain_text("login")
    shot = page.screenshot(path=str(shots / "audit.png"), full_page=True)

    width, height, pixels = png_pixels(shot)
    assert width >= 1280 and height >= 300
    assert len(pixels) > 20, "the screenshot is blank"
    assert (shots / "account.png").stat().st_size > 10_000
    assert all(r.startswith(url) for r in requests), "the page fetched from elsewhere"
    assert not problems, problems  # no script errors, no CSP violations
