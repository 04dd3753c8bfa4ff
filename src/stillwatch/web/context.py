"""The server's state and the checks every route goes through: who is asking, may they.

Every route but health, login and the static files depends on :func:`require`, which
authenticates (API token in ``Authorization: Bearer``, else the session cookie), checks the
CSRF token of every state-changing request made with a cookie, and checks the role.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request

from stillwatch.engine.casebook import Casebook
from stillwatch.web import auth
from stillwatch.web.audit import WebhookSender
from stillwatch.web.auth import LoginLimiter, Principal
from stillwatch.web.casework import Context
from stillwatch.web.storeview import RiskIndex, StoreView

SESSION_COOKIE = "sw_session"
LOGIN_COOKIE = "sw_login"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class WebConfig:
    store: Path
    casebook: Path
    memory_limit: str = "1GB"
    session_secret: str = ""
    session_hours: int = 12
    login_max_failures: int = 5
    login_window_seconds: int = 300
    max_body_bytes: int = 65536
    exchanges_shown: int = 50
    graph_max_nodes: int = 300
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_retries: int = 6
    webhook_timeout_seconds: float = 5.0
    webhook_backoff_seconds: float = 2.0
    risk_poll_seconds: float = 2.0
    ingest_max_body_bytes: int = 16 * 1024 * 1024
    # ingest settings for POST /api/v1/exchanges: batch_rows, max_text_bytes, conflict_window,
    # max_record_bytes and the *_account_from choices (stillwatch.settings)
    ingest: dict[str, Any] = field(default_factory=dict)


class NotAuthenticated(Exception):
    """No valid token or session."""


class Forbidden(Exception):
    """Authenticated, but the role or the CSRF token does not allow this."""


@dataclass
class ServerState:
    config: WebConfig
    book: Casebook
    view: StoreView
    risk: RiskIndex
    limiter: LoginLimiter
    secret: str
    webhook: WebhookSender | None

    def context(self, request: Request, who: Principal) -> Context:
        return Context(who=who, client_ip=client_ip(request), notify=self.webhook is not None)

    def notify(self) -> None:
        if self.webhook is not None:
            self.webhook.poke()


def server(request: Request) -> ServerState:
    state: ServerState = request.app.state.sw
    return state


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


async def authenticate(request: Request) -> Principal | None:
    """The caller, or None. A cookie-authenticated request that changes state must carry the
    session's CSRF token (header ``X-CSRF-Token`` or form field ``csrf_token``)."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    sw = server(request)
    header = request.headers.get("authorization", "")
    who: Principal | None = None
    if header[:7].lower() == "bearer ":
        who = auth.principal_for_token(sw.book, header[7:].strip())
        if who is None:
            return None
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            who = auth.principal_for_session(sw.book, cookie)
        if who is not None and request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER)
            if sent is None and "form" in request.headers.get("content-type", ""):
                form = await request.form()
                value = form.get(CSRF_FIELD)
                sent = value if isinstance(value, str) else None
            assert who.session_sha256 is not None
            if not sent or not auth.same(sent, auth.csrf_token(sw.secret, who.session_sha256)):
                raise Forbidden("missing or wrong CSRF token; reload the page and try again")
    request.state.principal = who
    return who


def require(role: str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency: the caller, who must hold ``role`` or a higher one."""

    async def dependency(request: Request) -> Principal:
        who = await authenticate(request)
        if who is None:
            raise NotAuthenticated()
        if not who.may(role):
            raise Forbidden(f"needs the {role} role; you are {who.role}")
        return who

    dependency.required_role = role  # type: ignore[attr-defined]  # read by the role tests
    return dependency
