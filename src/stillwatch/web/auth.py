"""Who is asking: passwords, API tokens, sessions, CSRF tokens, and the login rate limit.

Passwords are hashed with argon2id (argon2-cffi's defaults). API tokens and session ids are
256-bit random strings; the casebook keeps only their SHA-256, which is cheap to check on every
request and useless to whoever reads the file. CSRF tokens are an HMAC of the session's digest
under the session secret, so nothing more is stored. Known weakness: the per-user login limit
also locks out the real user while someone guesses at their name (documented in docs/web.md).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from stillwatch.engine.casebook import ROLES, Casebook, now_text, sha256_hex

TOKEN_PREFIX = "sw_"
_hasher = PasswordHasher()
# Verified against when the user name is unknown, so a wrong name costs as long as a wrong
# password and timing tells nothing.
_DUMMY_HASH = _hasher.hash("not a password anyone has")


def role_rank(role: str) -> int:
    return ROLES.index(role)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a user, by session cookie or by API token."""

    username: str
    role: str
    via: str  # "session" or "token"
    session_sha256: str | None = None

    def may(self, role: str) -> bool:
        return role_rank(self.role) >= role_rank(role)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(book: Casebook, username: str, password: str) -> str | None:
    """The user's role when the password is right, else None (same cost either way)."""
    row = book.one("SELECT password_hash, role FROM users WHERE username = ?", (username,))
    stored = row[0] if row else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    if _hasher.check_needs_rehash(stored):
        with book.transaction() as con:
            con.execute(
                "UPDATE users SET password_hash = ? WHERE username = ?",
                (_hasher.hash(password), username),
            )
    return str(row[1])


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def new_api_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def principal_for_token(book: Casebook, token: str) -> Principal | None:
    row = book.one(
        """SELECT u.username, u.role FROM api_tokens t JOIN users u USING (username)
           WHERE t.token_sha256 = ?""",
        (sha256_hex(token),),
    )
    return Principal(row[0], row[1], "token") if row else None


def start_session(book: Casebook, username: str, hours: int) -> str:
    """A new session for the user; returns the cookie value (stored only as its SHA-256)."""
    token = new_secret()
    expires = datetime.now(UTC) + timedelta(hours=hours)
    with book.transaction() as con:
        con.execute("DELETE FROM sessions WHERE expires_at <= ?", (now_text(),))
        con.execute(
            "INSERT INTO sessions VALUES (?, ?, ?, ?)",
            (sha256_hex(token), username, now_text(), now_text(expires)),
        )
    return token


def principal_for_session(book: Casebook, token: str) -> Principal | None:
    digest = sha256_hex(token)
    row = book.one(
        """SELECT u.username, u.role FROM sessions s JOIN users u USING (username)
           WHERE s.session_sha256 = ? AND s.expires_at > ?""",
        (digest, now_text()),
    )
    return Principal(row[0], row[1], "session", digest) if row else None


def end_session(book: Casebook, session_sha256: str) -> None:
    with book.transaction() as con:
        con.execute("DELETE FROM sessions WHERE session_sha256 = ?", (session_sha256,))


def csrf_token(secret: str, session_sha256: str) -> str:
    """The CSRF token of a session: forms carry it, and so does htmx's X-CSRF-Token header."""
    return hmac.new(secret.encode(), b"csrf:" + session_sha256.encode(), "sha256").hexdigest()


def login_csrf_token(secret: str, cookie: str) -> str:
    """Before login there is no session: the login form's token is bound to a random cookie."""
    return hmac.new(secret.encode(), b"login:" + cookie.encode(), "sha256").hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class LoginLimiter:
    """At most ``max_failures`` failed logins per key (client address, user name) within
    ``window`` seconds. In memory: a restart forgets, and each server process counts alone."""

    def __init__(self, max_failures: int, window: float) -> None:
        self.max_failures = max_failures
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, *keys: str) -> int:
        """Seconds until one of the keys may try again; 0 when all may now."""
        now = time.monotonic()
        wait = 0.0
        with self._lock:
            for key in keys:
                q = self._failures.get(key)
                if not q:
                    continue
                while q and q[0] <= now - self.window:
                    q.popleft()
                if len(q) >= self.max_failures:
                    wait = max(wait, q[0] + self.window - now)
        return int(wait) + 1 if wait else 0

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._failures.setdefault(key, deque()).append(now)
            if len(self._failures) > 100_000:  # bound memory under a spray of names
                self._failures.clear()

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
