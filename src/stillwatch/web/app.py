"""The FastAPI application: state, middleware, error pages, routes.

Errors never show a traceback: unknown ids are 404, bad input 422 with one line, a busy store
503 with Retry-After, anything else 500 with a reference to the server log (which holds the
exception's type and frames but not its message, since messages can quote prompt text).
"""

from __future__ import annotations

import inspect
import json
import logging
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stillwatch.engine.casebook import open_casebook
from stillwatch.errors import UsageError
from stillwatch.web.api import risk_payload
from stillwatch.web.audit import WebhookSender
from stillwatch.web.auth import LoginLimiter, new_secret, principal_for_token
from stillwatch.web.context import Forbidden, NotAuthenticated, ServerState, WebConfig
from stillwatch.web.storeview import NoStore, RiskIndex, StoreBusy, StoreView

HERE = Path(__file__).parent
log = logging.getLogger("stillwatch.web")
templates = Jinja2Templates(directory=str(HERE / "templates"))

# cytoscape.js injects one fixed <style> element; allowed by its hash, not by 'unsafe-inline'.
CYTOSCAPE_STYLE = b"'sha256-pgvDUBa4IjFA2yuSJ2cqcyxmNYJMborsd0ORcRv9vw8='"
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; script-src 'self'; style-src 'self' " + CYTOSCAPE_STYLE + b"; "
     b"img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
     b"form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]  # fmt: skip


class BodyLimit:
    """413 for a request body over ``limit`` bytes, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int, per_path: dict[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.per_path = per_path or {}  # routes that take larger bodies (ingest batches)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope.get("path", ""), self.limit)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(send, limit)
            return
        seen = 0
        refused = False  # we answered 413 ourselves: the app's own answer is dropped

        async def limited_receive() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit and not refused:
                    refused = True
                    await _too_large(send, limit)
                if refused:
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not refused:
                raise


async def _too_large(send: Send, limit: int) -> None:
    body = f'{{"error": "request body over {limit} bytes"}}'.encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """CSP (scripts only from this server), no framing, no sniffing, no referrer; pages are
    not cached (they show what a logged-in user may see)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", [])) + SECURITY_HEADERS
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class GatewayFastPath:
    """The two routes called per request by others' machines, answered without FastAPI's
    routing and dependency machinery: ``GET /api/v1/health`` (load balancers) and
    ``GET /api/v1/accounts/{id}/risk`` with a Bearer token (the provider's gateway). Same
    answers as the documented routes (``api.health``, ``api.risk``), which serve every other
    case: a cookie, a missing or unknown token, another method."""

    PREFIX, SUFFIX, HEALTH = "/api/v1/accounts/", "/risk", "/api/v1/health"

    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        if path == self.HEALTH:
            await _json(send, 200, {"status": "ok"})
            return
        if not (path.startswith(self.PREFIX) and path.endswith(self.SUFFIX)):
            await self.app(scope, receive, send)
            return
        account_id = path[len(self.PREFIX) : -len(self.SUFFIX)]
        header = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value
                break
        sw = self.state
        if not account_id or "/" in account_id or header[:7].lower() != b"bearer ":
            await self.app(scope, receive, send)
            return
        who = principal_for_token(sw.book, header[7:].strip().decode("latin-1"))
        if who is None:
            await self.app(scope, receive, send)
            return
        payload = risk_payload(sw, account_id)
        status = 200
        if payload is None:
            status, payload = 404, {"error": f"unknown account {account_id!r}"}
        await _json(send, status, payload)


async def _json(send: Send, status: int, payload: Any) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get(
        "accept", ""
    )


def error_response(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": message}, status_code=status)
    who = getattr(request.state, "principal", None)
    return templates.TemplateResponse(
        request,
        "error.html",
        {"status": status, "message": message, "who": who, "csrf": ""},
        status_code=status,
    )


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotAuthenticated)
    async def not_authenticated(request: Request, exc: NotAuthenticated) -> Response:
        if _wants_json(request):
            return JSONResponse(
                {"error": "authentication required: a session or an API token"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return error_response(request, 403, str(exc) or "forbidden")

    @app.exception_handler(UsageError)
    async def usage(request: Request, exc: UsageError) -> Response:
        return error_response(request, 422, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        # Only where and what: the default echoes the input back, which may be a password.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
            for e in exc.errors()[:5]
        )
        return error_response(request, 422, f"invalid request: {problems}")

    @app.exception_handler(StoreBusy)
    async def busy(request: Request, exc: StoreBusy) -> Response:
        response = error_response(request, 503, str(exc))
        response.headers["Retry-After"] = "5"
        return response

    @app.exception_handler(NoStore)
    async def no_store(request: Request, exc: NoStore) -> Response:
        return error_response(request, 404, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        messages = {404: "not found", 405: "method not allowed"}
        detail = exc.detail if isinstance(exc.detail, str) else ""
        response = error_response(
            request, exc.status_code, detail or messages.get(exc.status_code, "error")
        )
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        frames = "".join(traceback.format_tb(exc.__traceback__))
        log.error("%s on %s %s\n%s", type(exc).__name__, request.method, request.url.path, frames)
        return error_response(request, 500, "internal error; the server log has the details")


def _state(config: WebConfig) -> ServerState:
    book = open_casebook(config.casebook)
    secret = config.session_secret
    if not secret:
        row = book.one("SELECT value FROM casebook_meta WHERE key = 'session_secret'")
        if row is None:
            with book.transaction() as con:
                con.execute(
                    "INSERT OR IGNORE INTO casebook_meta VALUES ('session_secret', ?)",
                    (new_secret(),),
                )
            row = book.one("SELECT value FROM casebook_meta WHERE key = 'session_secret'")
        assert row is not None
        secret = str(row[0])
    if config.webhook_url and not config.webhook_secret:
        raise UsageError(
            "webhook_url is set but webhook_secret is empty: receivers could not tell our posts "
            "from forgeries; set STILLWATCH_WEBHOOK_SECRET"
        )
    webhook = (
        WebhookSender(
            book,
            config.webhook_url,
            config.webhook_secret,
            retries=config.webhook_retries,
            timeout=config.webhook_timeout_seconds,
            backoff_base=config.webhook_backoff_seconds,
        )
        if config.webhook_url
        else None
    )
    view = StoreView(config.store, config.memory_limit, config.exchanges_shown)
    return ServerState(
        config=config,
        book=book,
        view=view,
        risk=RiskIndex(view, config.risk_poll_seconds),
        limiter=LoginLimiter(config.login_max_failures, config.login_window_seconds),
        secret=secret,
        webhook=webhook,
    )


def create_app(config: WebConfig) -> FastAPI:
    """The whole server for ``config``; opens (or creates) the casebook at once."""
    from stillwatch.web import api, exchanges, pages  # pages use this module's templates

    state = _state(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.risk.start()
        if state.webhook is not None:
            state.webhook.start()
        try:
            yield
        finally:
            state.risk.stop()
            if state.webhook is not None:
                state.webhook.stop()
            state.book.close()

    # FastAPI's own OpenTelemetry (newer releases) is switched off: it costs time on every
    # request and, where an exporter is configured, would send request details elsewhere.
    quiet = (
        {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
        if "telemetry" in inspect.signature(FastAPI.__init__).parameters
        else {}
    )
    app = FastAPI(
        **quiet,  # type: ignore[arg-type]
        title="stillwatch",
        summary="Investigate distillation campaigns: accounts, verdicts, actions, audit.",
        version="1",
        # Swagger UI and ReDoc load from a CDN, and FastAPI's schema route is public: the schema
        # is served by api.openapi_schema (authenticated) and drawn by our own page, /api.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.sw = state
    _install_error_handlers(app)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(api.router)
    app.include_router(exchanges.router)
    app.include_router(pages.router)
    app.add_middleware(GatewayFastPath, state=state)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(
        BodyLimit,
        limit=config.max_body_bytes,
        per_path={exchanges.PATH: config.ingest_max_body_bytes},
    )
    return app


def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """Render a page template with the caller and their CSRF token."""
    from stillwatch.web.auth import csrf_token
    from stillwatch.web.context import server

    who = getattr(request.state, "principal", None)
    csrf = (
        csrf_token(server(request).secret, who.session_sha256) if who and who.session_sha256 else ""
    )
    return templates.TemplateResponse(
        request, name, {"who": who, "csrf": csrf, **context}, status_code=status
    )
