"""Run the application under uvicorn with the resolved settings.

Logs: uvicorn's access log names method, path and status (never a body, a header, a cookie or
a token: tokens travel only in headers and bodies, prompt text only in response bodies); the
application logs only event kinds and exception types.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import uvicorn

from stillwatch.engine.casebook import default_path
from stillwatch.settings import Resolved
from stillwatch.web.app import create_app
from stillwatch.web.context import WebConfig


def config_from(resolved: Resolved) -> WebConfig:
    store = Path(resolved.store)
    return WebConfig(
        store=store,
        casebook=Path(resolved.casebook) if resolved.casebook else default_path(store),
        memory_limit=resolved.memory_limit,
        session_secret=resolved.session_secret,
        session_hours=resolved.session_hours,
        login_max_failures=resolved.login_max_failures,
        login_window_seconds=resolved.login_window_seconds,
        max_body_bytes=resolved.web_max_body_bytes,
        exchanges_shown=resolved.web_exchanges_shown,
        graph_max_nodes=resolved.graph_max_nodes,
        webhook_url=resolved.webhook_url,
        webhook_secret=resolved.webhook_secret,
        webhook_retries=resolved.webhook_retries,
        webhook_timeout_seconds=float(resolved.webhook_timeout_seconds),
        ingest_max_body_bytes=resolved.web_ingest_max_body_bytes,
        ingest=ingest_settings(resolved),
    )


def ingest_settings(resolved: Resolved) -> dict[str, Any]:
    """The settings an ingest through the API uses, as the command line's would."""
    names = ["batch_rows", "max_text_bytes", "conflict_window", "max_record_bytes"]
    names += [n for n in resolved.values if n.endswith("_account_from")]
    return {n: resolved.values[n] for n in names}


def trusted_proxies(resolved: Resolved) -> list[str]:
    return [p.strip() for p in str(resolved.web_trusted_proxies).split(",") if p.strip()]


def serve(
    resolved: Resolved,
    *,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    access_log: bool = True,
) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = create_app(config_from(resolved))
    proxies = trusted_proxies(resolved)
    options: dict[str, Any] = {
        "host": resolved.web_host,
        "port": resolved.web_port,
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": proxies or None,
        "access_log": access_log,
        "server_header": False,
        "limit_concurrency": 1000,
        "timeout_keep_alive": 5,
    }
    if tls_cert and tls_key:
        options.update(ssl_certfile=str(tls_cert), ssl_keyfile=str(tls_key))
    uvicorn.run(app, **options)
