"""Every route against every role: who may call what is decided by the route table below,
written independently of the code, and a route missing from it fails the test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute

from tests.web.conftest import ROLES, Site, login

# (method, path) -> the lowest role allowed, or "public".
ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/health"): "public",
    ("POST", "/api/v1/login"): "public",
    ("GET", "/login"): "public",
    ("POST", "/login"): "public",
    ("POST", "/api/v1/logout"): "viewer",
    ("GET", "/api/v1/me"): "viewer",
    ("GET", "/api/v1/openapi.json"): "viewer",
    ("GET", "/api/v1/accounts/{account_id}"): "viewer",
    ("GET", "/api/v1/accounts/{account_id}/exchanges"): "viewer",
    ("GET", "/api/v1/accounts/{account_id}/risk"): "viewer",
    ("GET", "/api/v1/accounts/{account_id}/graph"): "viewer",
    ("POST", "/api/v1/accounts/{account_id}/verdicts"): "analyst",
    ("POST", "/api/v1/accounts/{account_id}/actions"): "analyst",
    ("GET", "/api/v1/search"): "viewer",
    ("GET", "/api/v1/allowlist"): "viewer",
    ("POST", "/api/v1/allowlist"): "analyst",
    ("DELETE", "/api/v1/allowlist/{entry_id}"): "analyst",
    ("GET", "/api/v1/campaigns"): "viewer",
    ("GET", "/api/v1/campaigns/{campaign_id}"): "viewer",
    ("GET", "/api/v1/campaigns/{campaign_id}/members"): "viewer",
    ("POST", "/api/v1/campaigns/{campaign_id}/verdicts"): "analyst",
    ("POST", "/api/v1/campaigns/{campaign_id}/actions"): "analyst",
    ("POST", "/api/v1/exchanges"): "analyst",
    ("GET", "/api/v1/audit"): "admin",
    ("GET", "/api/v1/users"): "admin",
    ("POST", "/api/v1/users"): "admin",
    ("DELETE", "/api/v1/users/{username}"): "admin",
    ("POST", "/api/v1/users/{username}/tokens"): "admin",
    ("POST", "/logout"): "viewer",
    ("GET", "/"): "viewer",
    ("GET", "/campaigns"): "viewer",
    ("GET", "/campaigns/{campaign_id}"): "viewer",
    ("POST", "/campaigns/{campaign_id}/verdict"): "analyst",
    ("POST", "/campaigns/{campaign_id}/action"): "analyst",
    ("GET", "/search"): "viewer",
    ("GET", "/accounts/{account_id}"): "viewer",
    ("POST", "/accounts/{account_id}/verdict"): "analyst",
    ("POST", "/accounts/{account_id}/action"): "analyst",
    ("POST", "/accounts/{account_id}/allow"): "analyst",
    ("GET", "/allowlist"): "viewer",
    ("POST", "/allowlist"): "analyst",
    ("POST", "/allowlist/{entry_id}/remove"): "analyst",
    ("GET", "/audit"): "admin",
    ("GET", "/users"): "admin",
    ("POST", "/users"): "admin",
    ("POST", "/users/{username}/remove"): "admin",
    ("POST", "/users/{username}/token"): "admin",
    ("GET", "/api"): "viewer",
}

PARAMS = {"account_id": "acct-0", "entry_id": "1", "username": "nobody", "campaign_id": "cmp-none"}
JSON_BODIES: dict[str, Any] = {
    "/api/v1/exchanges": [
        {"event_id": "roles-1", "ts": "2026-04-22T13:05:09Z", "account_id": "a", "model": "m"}
    ],
    "/api/v1/login": {"username": "viewer", "password": "wrong password"},
    "/api/v1/accounts/{account_id}/verdicts": {"verdict": "confirmed", "note": "n"},
    "/api/v1/accounts/{account_id}/actions": {"action": "observe", "reason": "r"},
    "/api/v1/allowlist": {"entity_kind": "ip", "entity": "192.0.2.0/24", "reason": "r"},
    "/api/v1/users": {"username": "u-new", "role": "viewer", "password": "x" * 12},
    "/api/v1/users/{username}/tokens": {"label": "t"},
    "/api/v1/campaigns/{campaign_id}/verdicts": {"verdict": "confirmed", "note": "n"},
    "/api/v1/campaigns/{campaign_id}/actions": {"action": "observe", "reason": "r"},
}
FORM_BODIES: dict[str, dict[str, str]] = {
    "/login": {"username": "viewer", "password": "wrong"},
    "/accounts/{account_id}/verdict": {"verdict": "confirmed", "note": "n"},
    "/accounts/{account_id}/action": {"action": "observe", "reason": "r"},
    "/accounts/{account_id}/allow": {"reason": "r", "days": "1"},
    "/allowlist": {"entity_kind": "ip", "entity": "192.0.2.0/24", "reason": "r"},
    "/allowlist/{entry_id}/remove": {"reason": "r"},
    "/users": {"username": "u-form", "role": "viewer", "password": "y" * 12},
    "/campaigns/{campaign_id}/verdict": {"verdict": "confirmed", "note": "n"},
    "/campaigns/{campaign_id}/action": {"action": "observe", "reason": "r"},
}
QUERIES = {"/api/v1/search": {"q": "acct"}, "/api/v1/allowlist/{entry_id}": {"reason": "r"}}


def app_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    def walk(routes: list[BaseRoute]) -> Iterator[BaseRoute]:
        for r in routes:
            inner = getattr(r, "original_router", None)
            yield from walk(inner.routes) if inner is not None else [r]

    for route in walk(app.router.routes):
        if route.path == "/static":  # type: ignore[attr-defined]
            continue
        for method in sorted(getattr(route, "methods", None) or []):
            if method != "HEAD":
                yield method, route.path  # type: ignore[attr-defined]


def call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    url = path.format(**PARAMS)
    kwargs: dict[str, Any] = {"headers": headers, "params": QUERIES.get(path)}
    if path in JSON_BODIES:
        kwargs["json"] = JSON_BODIES[path]
    elif path in FORM_BODIES:
        kwargs["data"] = FORM_BODIES[path]
    return client.request(method, url, **kwargs)


def test_every_route_is_classified(client: TestClient) -> None:
    assert set(app_routes(client.app)) == set(ROUTES)  # type: ignore[arg-type]


@pytest.mark.parametrize("role", [None, *ROLES])
def test_every_route_against_every_role(site: Site, client: TestClient, role: str | None) -> None:
    headers = {"Authorization": f"Bearer {site.tokens[role]}"} if role else {}
    rank = {r: i for i, r in enumerate(ROLES)}
    problems = []
    for (method, path), needed in ROUTES.items():
        if path == "/api/v1/logout" and role:
            continue  # a token has no session to end; checked by the session tests
        got = call(client, method, path, headers)
        if needed == "public":
            ok = got.status_code not in (401, 403) or path.endswith("login")
        elif role is None:
            api = path.startswith("/api/")
            ok = (
                got.status_code == 401
                if api
                else (got.status_code == 303 and got.headers["location"] == "/login")
            )
        elif rank[role] < rank[needed]:
            ok = got.status_code == 403
        else:
            ok = got.status_code not in (401, 403)
        if not ok or got.status_code >= 500:
            problems.append(f"{method} {path} as {role}: {got.status_code} {got.text[:120]}")
    assert not problems, "\n".join(problems)


def test_bad_token_is_rejected_not_ignored(client: TestClient) -> None:
    for token in ("sw_not-a-token", "", "x" * 5000):
        got = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert got.status_code == 401


def test_session_logout_ends_the_session(client: TestClient) -> None:
    csrf = login(client, "viewer")
    assert client.get("/api/v1/me").json()["via"] == "session"
    assert client.post("/api/v1/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert client.get("/api/v1/me").status_code == 401
