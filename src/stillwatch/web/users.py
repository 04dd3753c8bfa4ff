"""The people who use the dashboard and the API: add, list, remove, issue API tokens.

Used by ``stillwatch users …`` (actor ``cli``: whoever can run the command can already read
the casebook file) and by the admin pages. Each change is audited.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from stillwatch.engine.casebook import ROLES, Casebook, now_text, sha256_hex
from stillwatch.errors import UsageError
from stillwatch.web import audit
from stillwatch.web.auth import hash_password, new_api_token

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD = 12


def generate_password() -> str:
    """A first-login password: 16 characters from an unambiguous alphabet (~90 bits)."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(16))


def add_user(
    book: Casebook,
    username: str,
    role: str,
    password: str,
    *,
    actor: str,
    actor_role: str | None = None,
    client_ip: str | None = None,
    notify: bool = False,
) -> None:
    if not USERNAME.fullmatch(username or ""):
        raise UsageError(
            f"user name {username!r}: 1-64 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )
    if role not in ROLES:
        raise UsageError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"password: at least {MIN_PASSWORD} characters")
    hashed = hash_password(password)
    with book.transaction() as con:
        if con.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
            raise UsageError(f"user {username!r} exists; remove it first or pick another name")
        con.execute(
            "INSERT INTO users VALUES (?, ?, ?, ?, ?)",
            (username, role, hashed, now_text(), actor),
        )
        audit.append(
            con,
            event="user_add",
            actor=actor,
            actor_role=actor_role,
            entity_kind="user",
            entity_id=username,
            detail={"role": role},
            client_ip=client_ip,
            notify=notify,
        )


def list_users(book: Casebook) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in book.rows(
            """SELECT u.username, u.role, u.created_at, u.created_by,
                      (SELECT count(*) FROM api_tokens t WHERE t.username = u.username) AS tokens
               FROM users u ORDER BY u.username"""
        )
    ]


def remove_user(
    book: Casebook,
    username: str,
    *,
    actor: str,
    actor_role: str | None = None,
    client_ip: str | None = None,
    notify: bool = False,
) -> bool:
    """Remove a user with their sessions and tokens; False when there is no such user."""
    with book.transaction() as con:
        if not con.execute("DELETE FROM users WHERE username = ?", (username,)).rowcount:
            return False
        audit.append(
            con,
            event="user_remove",
            actor=actor,
            actor_role=actor_role,
            entity_kind="user",
            entity_id=username,
            client_ip=client_ip,
            notify=notify,
        )
    return True


def issue_token(
    book: Casebook,
    username: str,
    label: str,
    *,
    actor: str,
    actor_role: str | None = None,
    client_ip: str | None = None,
    notify: bool = False,
) -> str:
    """A new API token for the user, returned once; the casebook keeps its SHA-256."""
    label = (label or "").strip()[:100] or "token"
    token = new_api_token()
    with book.transaction() as con:
        if not con.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
            raise UsageError(f"no user {username!r}; `stillwatch users list` shows who exists")
        con.execute(
            "INSERT INTO api_tokens VALUES (?, ?, ?, ?)",
            (sha256_hex(token), username, label, now_text()),
        )
        audit.append(
            con,
            event="token_create",
            actor=actor,
            actor_role=actor_role,
            entity_kind="user",
            entity_id=username,
            detail={"label": label},
            client_ip=client_ip,
            notify=notify,
        )
    return token
