"""The audit log (append-only, in the casebook) and its webhook.

Every verdict, action, allowlist change, login (and failed login), logout, user change and prompt
reveal is one audit row: who, when, what, why. When a webhook is configured, the same write
queues the row in ``webhook_outbox``; a background thread POSTs it as JSON with an HMAC-SHA256
signature and retries with exponential backoff, so a receiver that is down loses nothing (it
may see an event twice: ``X-Stillwatch-Event-Id`` lets it drop repeats).

Signature: ``X-Stillwatch-Signature: t=<unix seconds>,v1=<hex>`` where ``<hex>`` is
HMAC-SHA256 under ``webhook_secret`` of ``"<t>." + body``; receivers recompute it and reject old
timestamps (replays).
"""

from __future__ import annotations

import hmac
import json
import logging
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict

from stillwatch.engine.casebook import Casebook, now_text, sha256_hex

log = logging.getLogger("stillwatch.web")

EVENTS = (
    "login",
    "login_failed",
    "logout",
    "verdict",
    "action",
    "allowlist_add",
    "allowlist_remove",
    "user_add",
    "user_remove",
    "token_create",
    "prompt_reveal",
)


class Actor(TypedDict):
    """Who acted (user and role), from which address, and whether the webhook hears of it: the
    audit row's actor fields, as ``append`` and the user changes of ``users.py`` take them."""

    actor: str
    actor_role: str | None
    client_ip: str | None
    notify: bool


def append(
    con: sqlite3.Connection,
    *,
    event: str,
    actor: str | None,
    actor_role: str | None,
    entity_kind: str | None = None,
    entity_id: str | None = None,
    account_id: str | None = None,
    detail: dict[str, Any] | None = None,
    reason: str | None = None,
    client_ip: str | None = None,
    notify: bool = False,
) -> int:
    """Write one audit row inside the caller's transaction; queue it for the webhook when
    ``notify``. Returns its id."""
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    cur = con.execute(
        """INSERT INTO audit (ts, actor, actor_role, event, entity_kind, entity_id,
                              account_sha256, detail, reason, client_ip)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (
            now_text(),
            actor,
            actor_role,
            event,
            entity_kind,
            entity_id,
            sha256_hex(account_id) if account_id else None,
            json.dumps(detail or {}, sort_keys=True),
            reason,
            client_ip,
        ),
    )
    audit_id = int(cur.lastrowid or 0)
    if notify:
        con.execute(
            "INSERT INTO webhook_outbox (audit_id, next_attempt_at) VALUES (?, ?)",
            (audit_id, now_text()),
        )
    return audit_id


def event_payload(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "audit_id": row["audit_id"],
        "ts": row["ts"],
        "actor": row["actor"],
        "actor_role": row["actor_role"],
        "event": row["event"],
        "entity_kind": row["entity_kind"],
        "entity_id": row["entity_id"],
        "account_sha256": row["account_sha256"],
        "detail": json.loads(row["detail"]),
        "reason": row["reason"],
    }


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, "sha256").hexdigest()
    return f"t={timestamp},v1={mac}"


class WebhookSender:
    """Delivers the outbox in a background thread: due rows oldest first, one POST each,
    backoff ``base * 2**attempts`` seconds after a failure, given up after ``retries`` tries."""

    def __init__(
        self,
        book: Casebook,
        url: str,
        secret: str,
        *,
        retries: int = 6,
        timeout: float = 5.0,
        backoff_base: float = 2.0,
    ) -> None:
        self.book = book
        self.url = url
        self.secret = secret
        self.retries = retries
        self.timeout = timeout
        self.backoff_base = backoff_base
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="webhook", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 1)

    def poke(self) -> None:
        """Something was queued: look now rather than at the next poll."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sent = self.deliver_due()
            except Exception as exc:  # a broken casebook must not kill the thread silently
                log.error("webhook: cannot read the outbox: %s", type(exc).__name__)
                sent = 0
            if not sent:
                self._wake.wait(timeout=min(1.0, self.backoff_base))
                self._wake.clear()

    def deliver_due(self) -> int:
        """Try every due event once; returns how many were attempted."""
        due = self.book.rows(
            """SELECT a.*, o.attempts FROM webhook_outbox o JOIN audit a USING (audit_id)
               WHERE o.delivered_at IS NULL AND o.failed_at IS NULL AND o.next_attempt_at <= ?
               ORDER BY o.audit_id LIMIT 100""",
            (now_text(),),
        )
        for row in due:
            if self._stop.is_set():
                break
            error = self._post(event_payload(row))
            attempts = int(row["attempts"]) + 1
            with self.book.transaction() as con:
                if error is None:
                    con.execute(
                        """UPDATE webhook_outbox SET attempts = ?, delivered_at = ?,
                           last_error = NULL WHERE audit_id = ?""",
                        (attempts, now_text(), row["audit_id"]),
                    )
                elif attempts >= self.retries:
                    con.execute(
                        """UPDATE webhook_outbox SET attempts = ?, failed_at = ?, last_error = ?
                           WHERE audit_id = ?""",
                        (attempts, now_text(), error, row["audit_id"]),
                    )
                    log.error(
                        "webhook: event %s given up after %d tries", row["audit_id"], attempts
                    )
                else:
                    later = datetime.now(UTC) + timedelta(
                        seconds=self.backoff_base * 2 ** (attempts - 1)
                    )
                    con.execute(
                        """UPDATE webhook_outbox SET attempts = ?, next_attempt_at = ?,
                           last_error = ? WHERE audit_id = ?""",
                        (attempts, now_text(later), error, row["audit_id"]),
                    )
        return len(due)

    def _post(self, payload: dict[str, Any]) -> str | None:
        """POST one event; None when the receiver answered 2xx, else what went wrong."""
        body = json.dumps(payload, sort_keys=True).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "stillwatch-webhook",
                "X-Stillwatch-Event-Id": str(payload["audit_id"]),
                "X-Stillwatch-Signature": signature(self.secret, int(time.time()), body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read(1024)
                return None
        except urllib.error.HTTPError as exc:
            return f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            return type(exc).__name__


def outbox_state(book: Casebook) -> dict[str, int]:
    row = book.one(
        """SELECT count(*) FILTER (WHERE delivered_at IS NOT NULL),
                  count(*) FILTER (WHERE failed_at IS NOT NULL),
                  count(*) FILTER (WHERE delivered_at IS NULL AND failed_at IS NULL)
           FROM webhook_outbox"""
    )
    assert row is not None
    return {"delivered": row[0], "failed": row[1], "pending": row[2]}
