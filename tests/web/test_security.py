"""Sessions, CSRF, login limits, body limits, 404s, prompt redaction, what the casebook keeps."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from stillwatch.web.app import create_app
from tests.web.conftest import PASSWORD, PROMPT, Site, login


def _login_form(client: TestClient) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert found
    return found[1]


def test_session_cookie_flags_follow_the_scheme(site: Site) -> None:
    for base, secure in (("http://testserver", False), ("https://testserver", True)):
        with TestClient(create_app(site.config), base_url=base, follow_redirects=False) as c:
            csrf = _login_form(c)
            done = c.post(
                "/login", data={"username": "viewer", "password": PASSWORD, "csrf_token": csrf}
            )
            cookie = done.headers["set-cookie"]
            assert cookie.startswith("sw_session=") and "HttpOnly" in cookie
            assert "SameSite=lax" in cookie
            assert ("Secure" in cookie) is secure


def test_login_form_needs_its_csrf_token(client: TestClient) -> None:
    _login_form(client)
    done = client.post("/login", data={"username": "viewer", "password": PASSWORD})
    assert done.status_code == 403 and "sw_session" not in done.headers.get("set-cookie", "")


def test_state_changes_with_a_cookie_need_the_csrf_token(client: TestClient) -> None:
    csrf = login(client, "analyst")
    body = {"verdict": "confirmed", "note": "n"}
    assert client.post("/accounts/acct-0/verdict", data=body).status_code == 403
    wrong = {**body, "csrf_token": "0" * 64}
    assert client.post("/accounts/acct-0/verdict", data=wrong).status_code == 403
    api = "/api/v1/accounts/acct-0/verdicts"
    assert client.post(api, json=body).status_code == 403
    assert client.post(api, json=body, headers={"X-CSRF-Token": csrf}).status_code == 201
    right = {**body, "csrf_token": csrf}
    assert client.post("/accounts/acct-0/verdict", data=right).status_code == 303


def test_login_is_rate_limited_even_for_the_right_password(client: TestClient) -> None:
    for _ in range(5):
        bad = client.post("/api/v1/login", json={"username": "admin", "password": "guess"})
        assert bad.status_code == 401
    limited = client.post("/api/v1/login", json={"username": "admin", "password": PASSWORD})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    # The same address trying another name is limited too (per address and per name).
    other = client.post("/api/v1/login", json={"username": "viewer", "password": PASSWORD})
    assert other.status_code == 429


def test_audit_rows_of_logins(site: Site, client: TestClient) -> None:
    client.post("/api/v1/login", json={"username": "viewer", "password": "nope"})
    client.post("/api/v1/login", json={"username": "viewer", "password": PASSWORD})
    events = client.get(
        "/api/v1/audit", headers={"Authorization": f"Bearer {site.tokens['admin']}"}
    ).json()["events"]
    assert [e["event"] for e in events[:2]] == ["login", "login_failed"]
    assert events[0]["actor"] == "viewer" and events[1]["entity_id"] == "viewer"


def test_request_bodies_are_limited(site: Site) -> None:
    from dataclasses import replace

    config = replace(site.config, max_body_bytes=1000)
    with TestClient(create_app(config)) as c:
        auth = {"Authorization": f"Bearer {site.tokens['analyst']}"}
        big = {"verdict": "confirmed", "note": "x" * 2000}
        assert c.post("/api/v1/accounts/acct-0/verdicts", json=big, headers=auth).status_code == 413

        def chunks():  # no Content-Length: counted as it streams
            for _ in range(10):
                yield b"x" * 500

        streamed = c.post(
            "/api/v1/accounts/acct-0/verdicts",
            content=chunks(),
            headers={**auth, "Content-Type": "application/json"},
        )
        assert streamed.status_code == 413
        small = {"verdict": "confirmed", "note": "ok"}
        assert (
            c.post("/api/v1/accounts/acct-0/verdicts", json=small, headers=auth).status_code == 201
        )


def test_unknown_ids_are_404_without_a_traceback(site: Site, client: TestClient) -> None:
    auth = {"Authorization": f"Bearer {site.tokens['admin']}"}
    for method, url in (
        ("GET", "/api/v1/accounts/nope"),
        ("GET", "/api/v1/accounts/nope/risk"),
        ("GET", "/api/v1/accounts/nope/exchanges"),
        ("GET", "/accounts/nope"),
        ("GET", "/accounts/%00%ff"),
        ("DELETE", "/api/v1/allowlist/999?reason=r"),
        ("DELETE", "/api/v1/users/nobody"),
        ("POST", "/api/v1/users/nobody/tokens"),
        ("GET", "/no/such/page"),
    ):
        got = client.request(method, url, headers=auth, json={} if method == "POST" else None)
        assert got.status_code == 404, (url, got.status_code, got.text[:200])
        assert "Traceback" not in got.text and 'File "' not in got.text
    # A registered account that never sent a request is known: 200, not 404.
    assert client.get("/api/v1/accounts/acct-9", headers=auth).status_code == 200


def test_bad_input_is_one_clear_line(site: Site, client: TestClient) -> None:
    auth = {"Authorization": f"Bearer {site.tokens['analyst']}"}
    got = client.post(
        "/api/v1/accounts/acct-0/verdicts", json={"verdict": "maybe", "note": "n"}, headers=auth
    )
    assert got.status_code == 422 and "verdict" in got.json()["error"]
    got = client.post(
        "/api/v1/accounts/acct-0/actions", json={"action": "reinstate", "reason": "r"}, headers=auth
    )
    assert got.status_code == 422 and got.json()["error"].startswith("nothing to reinstate")
    secret = {"username": "x!", "role": "viewer", "password": "hunter2-hunter2"}
    admin = {"Authorization": f"Bearer {site.tokens['admin']}"}
    got = client.post("/api/v1/users", json=secret, headers=admin)
    assert got.status_code == 422 and "hunter2" not in got.text


def test_prompt_text_is_redacted_unless_an_analyst_asks(site: Site, client: TestClient) -> None:
    viewer = {"Authorization": f"Bearer {site.tokens['viewer']}"}
    analyst = {"Authorization": f"Bearer {site.tokens['analyst']}"}
    page = client.get("/accounts/acct-0", headers=viewer)
    assert page.status_code == 200 and PROMPT not in page.text and "redacted" in page.text
    api = client.get("/api/v1/accounts/acct-0/exchanges", headers=analyst).json()
    assert api["exchanges"] and all("prompt" not in e for e in api["exchanges"])
    denied = client.get("/api/v1/accounts/acct-0/exchanges?reveal=true", headers=viewer)
    assert denied.status_code == 403
    shown = client.get("/api/v1/accounts/acct-0/exchanges?reveal=true", headers=analyst).json()
    assert all(e["prompt"].startswith(PROMPT) for e in shown["exchanges"])
    admin = {"Authorization": f"Bearer {site.tokens['admin']}"}
    events = client.get("/api/v1/audit", headers=admin).json()["events"]
    assert events[0]["event"] == "prompt_reveal" and events[0]["actor"] == "analyst"


def test_casebook_keeps_no_password_or_token(site: Site, client: TestClient) -> None:
    login(client, "admin")
    raw = b"".join(p.read_bytes() for p in site.casebook.parent.glob("*.sqlite*"))
    assert PASSWORD.encode() not in raw
    assert all(t.encode() not in raw for t in site.tokens.values())
    assert b"$argon2id$" in raw


def test_pages_carry_security_headers_and_ship_their_javascript(
    site: Site, client: TestClient
) -> None:
    page = client.get("/login")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
    assert 'src="/static/vendor/htmx.min.js"' in page.text and "http" not in re.sub(
        r"<[^>]*>", "", "".join(re.findall(r"<script[^>]*>", page.text))
    )
    js = client.get("/static/vendor/htmx.min.js")
    assert js.status_code == 200 and b"htmx" in js.content and 'version:"2.' in js.text
    cy = client.get("/static/vendor/cytoscape.min.js")
    assert cy.status_code == 200 and len(cy.content) > 100_000


def test_the_api_is_documented_by_its_openapi_schema(site: Site, client: TestClient) -> None:
    bearer = {"Authorization": f"Bearer {site.tokens['viewer']}"}
    schema = client.get("/api/v1/openapi.json", headers=bearer).json()
    paths = schema["paths"]
    assert "/api/v1/accounts/{account_id}/risk" in paths
    assert {"post"} <= set(paths["/api/v1/accounts/{account_id}/actions"])
    assert all(p.startswith("/api/v1/") for p in paths)  # pages are not in the API schema
    page = client.get("/api", headers=bearer)
    assert page.status_code == 200
    for path in paths:
        assert f"<code>{path}</code>" in page.text
    assert "ActionBody" in page.text and "reinstate" in page.text
