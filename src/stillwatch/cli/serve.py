"""``stillwatch serve``: the dashboard and JSON API (docs/web.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stillwatch.cli.app import app
from stillwatch.cli.common import StoreOption, settings
from stillwatch.cli.output import err_console
from stillwatch.errors import UsageError
from stillwatch.web.server import config_from, serve

CasebookOption = Annotated[
    Path | None,
    typer.Option(
        "--casebook", help="the casebook (users, verdicts, actions, audit) [setting: casebook]"
    ),
]


@app.command("serve")
def serve_command(
    store: StoreOption = None,
    casebook: CasebookOption = None,
    host: Annotated[
        str | None, typer.Option(help="address to listen on [setting: web_host]")
    ] = None,
    port: Annotated[int | None, typer.Option(help="port [setting: web_port]")] = None,
    tls_cert: Annotated[
        Path | None, typer.Option(help="TLS certificate (PEM) to serve https")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="TLS private key (PEM)")] = None,
    no_access_log: Annotated[bool, typer.Option(help="do not log each request")] = False,
) -> None:
    """Serve the analysts' dashboard and the JSON API; log in as a user made with `users add`."""
    resolved = settings(store=store, casebook=casebook, web_host=host, web_port=port)
    if bool(tls_cert) != bool(tls_key):
        raise UsageError("--tls-cert and --tls-key go together")
    config = config_from(resolved)
    scheme = "https" if tls_cert else "http"
    err_console.print(
        f"serving {scheme}://{resolved.web_host}:{resolved.web_port}/ on store {config.store}, "
        f"casebook {config.casebook}",
        markup=False,
    )
    serve(resolved, tls_cert=tls_cert, tls_key=tls_key, access_log=not no_access_log)
