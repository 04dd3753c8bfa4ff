"""``stillwatch users add|list|remove|token``: who may use the dashboard and the API.

Whoever can run these commands can read the casebook file already, so they need no login; each
change is audited with the actor ``cli:<system user>``.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated

import typer

from stillwatch.cli.app import app
from stillwatch.cli.common import FormatOption, StoreOption, settings
from stillwatch.cli.output import Format, console, emit_json, rows_table
from stillwatch.cli.serve import CasebookOption
from stillwatch.engine.casebook import ROLES, Casebook, default_path, open_casebook
from stillwatch.errors import UsageError
from stillwatch.web import users as user_admin

users_app = typer.Typer(
    help="Users of the dashboard and API: add, list, remove, token.", no_args_is_help=True
)
app.add_typer(users_app, name="users")


def _casebook(store: Path | None, casebook: Path | None) -> Casebook:
    resolved = settings(store=store, casebook=casebook)
    path = Path(resolved.casebook) if resolved.casebook else default_path(resolved.store)
    return open_casebook(path)


def _actor() -> str:
    try:
        return "cli:" + getpass.getuser()
    except Exception:
        return "cli"


@users_app.command("add")
def add_command(
    username: Annotated[str, typer.Argument(help="the user's login name")],
    role: Annotated[str, typer.Option(help=f"one of {', '.join(ROLES)}")] = "analyst",
    password_stdin: Annotated[
        bool, typer.Option(help="read the password from standard input")
    ] = False,
    generate_password: Annotated[
        bool, typer.Option(help="make a password and print it once")
    ] = False,
    store: StoreOption = None,
    casebook: CasebookOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Add a user. Interactive: asks for the password twice."""
    if password_stdin and generate_password:
        raise UsageError("--password-stdin and --generate-password: pick one")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif generate_password:
        password = user_admin.generate_password()
    elif sys.stdin.isatty():
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    else:
        raise UsageError("no password: use --password-stdin or --generate-password")
    with _casebook(store, casebook) as book:
        user_admin.add_user(book, username, role, password, actor=_actor())
        where = str(book.path)
    payload = {"username": username, "role": role, "casebook": where}
    if generate_password:
        payload["password"] = password
    if fmt == Format.json:
        emit_json(payload)
        return
    console.print(f"added {username} ({role}) to {where}", markup=False)
    if generate_password:
        console.print(f"password (shown once): {password}", markup=False)


@users_app.command("list")
def list_command(
    store: StoreOption = None, casebook: CasebookOption = None, fmt: FormatOption = Format.table
) -> None:
    """Users, their roles and how many API tokens each holds."""
    with _casebook(store, casebook) as book:
        rows = user_admin.list_users(book)
    if fmt == Format.json:
        emit_json(rows)
    else:
        console.print(rows_table("users", rows))


@users_app.command("remove")
def remove_command(
    username: Annotated[str, typer.Argument(help="the user to remove")],
    store: StoreOption = None,
    casebook: CasebookOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Remove a user with their sessions and API tokens (their audit rows stay)."""
    with _casebook(store, casebook) as book:
        if not user_admin.remove_user(book, username, actor=_actor()):
            raise UsageError(f"no user {username!r}; `stillwatch users list` shows who exists")
    if fmt == Format.json:
        emit_json({"removed": username})
    else:
        console.print(f"removed {username}", markup=False)


@users_app.command("token")
def token_command(
    username: Annotated[str, typer.Argument(help="whose token: it acts with their role")],
    label: Annotated[str, typer.Option(help="what the token is for, e.g. gateway")] = "token",
    store: StoreOption = None,
    casebook: CasebookOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Issue an API token (printed once; only its SHA-256 is kept). Send it as
    `Authorization: Bearer TOKEN`."""
    with _casebook(store, casebook) as book:
        token = user_admin.issue_token(book, username, label, actor=_actor())
    if fmt == Format.json:
        emit_json({"username": username, "label": label, "token": token})
    else:
        console.print(f"API token for {username} (shown once): {token}", markup=False)
