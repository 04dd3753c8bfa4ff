"""The casebook: the scan's read API, append-only audit, and forget."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from stillwatch.engine.casebook import (
    ACCOUNT_ROWS,
    forget_in_casebook,
    open_casebook,
    read_casebook,
    sha256_hex,
)
from stillwatch.errors import UsageError
from stillwatch.web import casework
from stillwatch.web.auth import Principal
from stillwatch.web.casework import Context

ANALYST = Context(Principal("ana", "analyst", "token"), "127.0.0.1", notify=False)


def test_scan_reads_allowlist_in_force_and_latest_decisions(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with open_casebook(path) as book:
        casework.allow(book, ANALYST, "account", "a1", "university NAT", days=1)
        casework.allow(book, ANALYST, "ip", "198.51.100.0/24", "campus egress")
        casework.allow(book, ANALYST, "api_key", "k9", "eval harness", account_id="a2", days=30)
        casework.record_verdict(book, ANALYST, "account", "a1", "confirmed", "shared card")
        casework.record_verdict(book, ANALYST, "account", "a1", "dismissed", "it is a school")
        casework.take_action(book, ANALYST, "a1", "suspend", "campaign")
        casework.take_action(book, ANALYST, "a1", "reinstate", "false positive: school")
        casework.take_action(book, ANALYST, "a2", "throttle", "hydra key", api_key_id="k9")
        with pytest.raises(UsageError, match="nothing to reinstate"):
            casework.take_action(book, ANALYST, "a3", "reinstate", "never acted on")
        with pytest.raises(UsageError, match="not an IP"):
            casework.allow(book, ANALYST, "ip", "not-an-ip", "x")
    # The scan opens it read-only, in another connection, as another process would.
    with read_casebook(path) as book:
        assert book is not None
        now = {(e.entity_kind, e.entity) for e in book.allowlisted()}
        assert now == {("account", "a1"), ("ip", "198.51.100.0/24"), ("api_key", "k9")}
        later = datetime.now(UTC) + timedelta(days=2)
        assert {e.entity for e in book.allowlisted(later)} == {"198.51.100.0/24", "k9"}
        assert book.account_verdicts()["a1"].verdict == "dismissed"
        actions = book.current_actions()
        assert ("a1", None) not in actions  # reinstated
        assert actions[("a2", "k9")].action == "throttle"
        with pytest.raises(sqlite3.OperationalError):  # read-only really is
            book.con.execute("DELETE FROM allowlist")
    with read_casebook(tmp_path / "missing.sqlite") as none:
        assert none is None


def test_audit_is_append_only(tmp_path: Path) -> None:
    with open_casebook(tmp_path / "c.sqlite") as book:
        casework.record_verdict(book, ANALYST, "account", "a1", "confirmed", "why")
        for sql in ("UPDATE audit SET actor = 'x'", "DELETE FROM audit"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                book.con.execute(sql)


def test_forget_keeps_audit_by_digest_and_deletes_decisions(tmp_path: Path) -> None:
    with open_casebook(tmp_path / "c.sqlite") as book:
        casework.record_verdict(book, ANALYST, "account", "acct_1", "confirmed", "shares card")
        casework.take_action(book, ANALYST, "acct_1", "ban", "operator X")
        casework.allow(book, ANALYST, "api_key", "k1", "harness", account_id="acct_1")
        # Another account's rows stay, though its id contains this one and a note names it.
        casework.record_verdict(
            book, ANALYST, "account", "acct_10", "confirmed", "same card as acct_1."
        )
        changed = forget_in_casebook(book, "acct_1")
        assert changed["analyst_verdicts"] == 2  # its verdict deleted, the other's note
        assert changed["actions"] == 1 and changed["allowlist"] == 1 and changed["audit"] >= 3
        everything = "\n".join(
            str(tuple(r)) for t in ACCOUNT_ROWS for r in book.rows(f"SELECT * FROM {t}")
        )
        assert "acct_1'" not in everything and "acct_1 " not in everything
        assert "acct_1." not in everything
        assert "acct_10" in everything
        digest = sha256_hex("acct_1")
        rows = book.rows("SELECT * FROM audit WHERE account_sha256 = ?", (digest,))
        assert {r["event"] for r in rows} == {"verdict", "action", "allowlist_add"}
        assert all(r["entity_id"] in ("sha256:" + digest, "k1") for r in rows)
        note = book.one("SELECT note FROM analyst_verdicts WHERE entity_id = 'acct_10'")
        assert note is not None and note[0] == f"same card as sha256:{digest}."
        with pytest.raises(sqlite3.IntegrityError):  # the triggers are back
            book.con.execute("DELETE FROM audit")


def test_forget_registry_covers_every_table_naming_an_account(tmp_path: Path) -> None:
    """A table with a column that can hold an account id (or text naming one) must be
    registered; tables of users, sessions and bookkeeping hold none."""
    holds_no_account = {
        "casebook_meta", "users", "api_tokens", "sessions", "webhook_outbox",
        "casebook_forget_requests",
    }  # fmt: skip
    with open_casebook(tmp_path / "c.sqlite") as book:
        tables = {
            r[0]
            for r in book.rows("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not r[0].startswith("sqlite_")
        }
    assert tables - holds_no_account == set(ACCOUNT_ROWS)
