"""The casebook: what people decided, kept apart from the store of traffic.

A SQLite database of the web server's state: users, API tokens, sessions, the analysts'
verdicts, the actions taken (one ladder: observe → throttle → challenge → suspend → ban;
reinstate), the allowlist, the append-only audit log and the webhook outbox. It is SQLite, not
DuckDB, because several processes use it at once: the server writes it while a scan reads the
allowlist and verdicts and ``forget`` cleans it (SQLite's write-ahead log gives readers a
snapshot while one writer commits; DuckDB allows one writing process per file).

The scan reads it through :meth:`Casebook.allowlisted`, :meth:`Casebook.account_verdicts` and
:meth:`Casebook.current_actions`; a missing casebook reads as empty. Verdicts are analysts'
opinions, never ground truth: nothing here is mixed with a data set's labels.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stillwatch.errors import StoreError

ROLES = ("viewer", "analyst", "admin")  # each may do what the ones before it may
VERDICTS = ("confirmed", "dismissed")
VERDICT_ENTITIES = ("account", "campaign")
# The action ladder, mildest first, in the schema's verbs (shared/schema `enforcements.action`)
# plus `observe`; `reinstate` steps off the ladder (the false-positive path) and needs a reason.
LADDER = ("observe", "throttle", "challenge", "suspend", "ban")
ACTIONS = (*LADDER, "reinstate")
ALLOW_KINDS = ("account", "api_key", "ip")

SCHEMA_VERSION = "1"
_APPEND_ONLY = tuple(
    f"""CREATE TRIGGER IF NOT EXISTS audit_no_{verb} BEFORE {verb.upper()} ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"""
    for verb in ("update", "delete")
)
DDL = f"""
CREATE TABLE IF NOT EXISTS casebook_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
  username TEXT PRIMARY KEY,
  role TEXT NOT NULL CHECK (role IN {ROLES}),
  password_hash TEXT NOT NULL,
  created_at TEXT NOT NULL,
  created_by TEXT
);
CREATE TABLE IF NOT EXISTS api_tokens (
  token_sha256 TEXT PRIMARY KEY,
  username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
  label TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
  session_sha256 TEXT PRIMARY KEY,
  username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS analyst_verdicts (
  verdict_id INTEGER PRIMARY KEY,
  ts TEXT NOT NULL,
  analyst TEXT NOT NULL,
  entity_kind TEXT NOT NULL CHECK (entity_kind IN {VERDICT_ENTITIES}),
  entity_id TEXT NOT NULL,
  verdict TEXT NOT NULL CHECK (verdict IN {VERDICTS}),
  note TEXT NOT NULL,
  scan_id TEXT
);
CREATE INDEX IF NOT EXISTS analyst_verdicts_entity ON analyst_verdicts (entity_kind, entity_id);
CREATE TABLE IF NOT EXISTS actions (
  action_id INTEGER PRIMARY KEY,
  ts TEXT NOT NULL,
  actor TEXT NOT NULL,
  account_id TEXT NOT NULL,
  api_key_id TEXT,
  action TEXT NOT NULL CHECK (action IN {ACTIONS}),
  reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS actions_account ON actions (account_id);
CREATE TABLE IF NOT EXISTS allowlist (
  entry_id INTEGER PRIMARY KEY,
  entity_kind TEXT NOT NULL CHECK (entity_kind IN {ALLOW_KINDS}),
  entity TEXT NOT NULL,
  account_id TEXT,
  reason TEXT NOT NULL,
  expires_at TEXT,
  added_by TEXT NOT NULL,
  added_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS allowlist_entity ON allowlist (entity_kind, entity);
CREATE INDEX IF NOT EXISTS allowlist_account ON allowlist (account_id);
CREATE TABLE IF NOT EXISTS audit (
  audit_id INTEGER PRIMARY KEY,
  ts TEXT NOT NULL,
  actor TEXT,
  actor_role TEXT,
  event TEXT NOT NULL,
  entity_kind TEXT,
  entity_id TEXT,
  account_sha256 TEXT,
  detail TEXT NOT NULL,
  reason TEXT,
  client_ip TEXT
);
CREATE INDEX IF NOT EXISTS audit_account ON audit (account_sha256);
CREATE TABLE IF NOT EXISTS webhook_outbox (
  audit_id INTEGER PRIMARY KEY REFERENCES audit(audit_id),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT NOT NULL,
  delivered_at TEXT,
  failed_at TEXT,
  last_error TEXT
);
CREATE TABLE IF NOT EXISTS casebook_forget_requests (
  account_sha256 TEXT NOT NULL, done_at TEXT NOT NULL, rows_changed INTEGER NOT NULL
);
{";".join(_APPEND_ONLY)};
"""

# Tables that hold an account id, and where (registered for ``forget``; a test checks this
# against the schema). Audit rows are not deleted: they keep the id's SHA-256 instead.
ACCOUNT_ROWS = {
    "analyst_verdicts": "entity_id (entity_kind = 'account'); note text naming it",
    "actions": "account_id; reason text naming it",
    "allowlist": "account_id, entity (entity_kind = 'account'); reason text naming it",
    "audit": "entity_id, detail, reason: the id replaced by sha256:<hex>",
}


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def now_text(at: datetime | None = None) -> str:
    """UTC time as sortable text: every time in the casebook is written this way."""
    return (at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def default_path(store: str | Path) -> Path:
    """The casebook beside the store: ``x.duckdb`` → ``x.casebook.sqlite``."""
    p = Path(store)
    return p.with_name(p.stem + ".casebook.sqlite")


@dataclass(frozen=True)
class AllowEntry:
    entity_kind: str
    entity: str
    account_id: str | None
    reason: str
    expires_at: str | None


@dataclass(frozen=True)
class Verdict:
    entity_kind: str
    entity_id: str
    verdict: str
    note: str
    analyst: str
    ts: str


@dataclass(frozen=True)
class Action:
    account_id: str
    api_key_id: str | None
    action: str
    reason: str
    actor: str
    ts: str


class Casebook:
    """An open casebook. One SQLite connection per thread; use as a context manager."""

    def __init__(self, path: Path, read_only: bool) -> None:
        self.path = path
        self.read_only = read_only
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    @property
    def con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = _connect(self.path, self.read_only)
            self._local.con = con
            with self._lock:
                self._all.append(con)
        return con

    def __enter__(self) -> Casebook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            for con in self._all:
                con.close()
            self._all.clear()
        self._local = threading.local()

    def rows(self, query: str, params: tuple[Any, ...] | list[Any] = ()) -> list[sqlite3.Row]:
        return self.con.execute(query, params).fetchall()

    def one(self, query: str, params: tuple[Any, ...] | list[Any] = ()) -> sqlite3.Row | None:
        return self.con.execute(query, params).fetchone()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing, taking the write lock at once (no upgrade deadlock between writers)."""
        con = self.con
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    # -- the read API the scan uses -------------------------------------------------------
    def allowlisted(self, at: datetime | None = None) -> list[AllowEntry]:
        """Allowlist entries in force at ``at`` (now by default): not expired."""
        rows = self.rows(
            """SELECT entity_kind, entity, account_id, reason, expires_at FROM allowlist
               WHERE expires_at IS NULL OR expires_at > ? ORDER BY entry_id""",
            (now_text(at),),
        )
        return [AllowEntry(*r) for r in rows]

    def account_verdicts(self) -> dict[str, Verdict]:
        """Each account's latest verdict (an analyst may change their mind)."""
        rows = self.rows(
            """SELECT entity_kind, entity_id, verdict, note, analyst, ts FROM analyst_verdicts
               WHERE entity_kind = 'account' ORDER BY verdict_id"""
        )
        return {r[1]: Verdict(*r) for r in rows}

    def current_actions(self) -> dict[tuple[str, str | None], Action]:
        """The latest action per account (api_key_id None) and per API key; a reinstated
        entity is absent."""
        latest: dict[tuple[str, str | None], Action] = {}
        for r in self.rows(
            """SELECT account_id, api_key_id, action, reason, actor, ts FROM actions
               ORDER BY action_id"""
        ):
            latest[(r[0], r[1])] = Action(*r)
        return {k: a for k, a in latest.items() if a.action != "reinstate"}


def _connect(path: Path, read_only: bool) -> sqlite3.Connection:
    try:
        if read_only:
            con = sqlite3.connect(
                f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
            )
        else:
            con = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA busy_timeout = 5000")
        con.execute("PRAGMA foreign_keys = ON")
        if not read_only:
            con.execute("PRAGMA synchronous = NORMAL")
        return con
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open the casebook: {exc}") from None


def open_casebook(path: str | Path, *, read_only: bool = False) -> Casebook:
    """Open (and, unless ``read_only``, create or upgrade) the casebook at ``path``.

    Read-only opening of a missing casebook raises :class:`StoreError`; use
    :func:`read_casebook` where a missing one should read as empty.
    """
    path = Path(path)
    if path.is_dir():
        raise StoreError(f"{path}: is a folder; the casebook is a single SQLite file")
    if not path.parent.exists():
        raise StoreError(f"{path}: folder {path.parent} does not exist")
    if read_only and not path.exists():
        raise StoreError(f"{path}: no casebook here; `stillwatch users add` or `serve` makes one")
    book = Casebook(path, read_only)
    if not read_only:
        old = os.umask(0o077)  # password hashes and session digests: owner only
        try:
            con = book.con
            con.execute("PRAGMA journal_mode = WAL")
            con.executescript(DDL)
            con.execute(
                "INSERT OR IGNORE INTO casebook_meta VALUES ('schema_version', ?)",
                (SCHEMA_VERSION,),
            )
        except sqlite3.DatabaseError as exc:
            book.close()
            raise StoreError(f"{path}: not a stillwatch casebook: {exc}") from None
        finally:
            os.umask(old)
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            if p.exists():
                os.chmod(p, stat.S_IRUSR | stat.S_IWUSR)
    return book


@contextmanager
def read_casebook(path: str | Path | None) -> Iterator[Casebook | None]:
    """The casebook for reading, or None where there is none yet (nothing decided)."""
    if path is None or not Path(path).exists():
        yield None
        return
    book = open_casebook(path, read_only=True)
    try:
        yield book
    finally:
        book.close()


def _pseudonymize(text: str | None, account_id: str, digest: str) -> str | None:
    """The text with the id, as a whole word, replaced by ``sha256:<hex>``."""
    if not text or account_id not in text:
        return text
    pattern = re.compile(r"(?<![\w.-])" + re.escape(account_id) + r"(?![\w-])")
    return pattern.sub("sha256:" + digest, text)


def forget_in_casebook(book: Casebook, account_id: str) -> dict[str, int]:
    """The casebook's part of ``stillwatch forget``: delete the account's verdicts, actions and
    allowlist entries (and other rows' notes naming it lose the name); audit rows stay, with the
    id replaced by its SHA-256 wherever it was written. Returns rows changed per table."""
    digest = sha256_hex(account_id)
    changed: dict[str, int] = {}
    with book.transaction() as con:
        changed["analyst_verdicts"] = con.execute(
            "DELETE FROM analyst_verdicts WHERE entity_kind = 'account' AND entity_id = ?",
            (account_id,),
        ).rowcount
        changed["actions"] = con.execute(
            "DELETE FROM actions WHERE account_id = ?", (account_id,)
        ).rowcount
        changed["allowlist"] = con.execute(
            """DELETE FROM allowlist WHERE account_id = ?
               OR (entity_kind = 'account' AND entity = ?)""",
            (account_id, account_id),
        ).rowcount
        for table, key, column in (
            ("analyst_verdicts", "verdict_id", "note"),
            ("actions", "action_id", "reason"),
            ("allowlist", "entry_id", "reason"),
        ):
            for rid, text in con.execute(
                f"SELECT {key}, {column} FROM {table} WHERE instr({column}, ?) > 0",
                (account_id,),
            ).fetchall():
                new = _pseudonymize(text, account_id, digest)
                if new != text:
                    con.execute(f"UPDATE {table} SET {column} = ? WHERE {key} = ?", (new, rid))
                    changed[table] += 1
        # The one rewrite the audit log allows: its triggers are lifted inside this transaction.
        con.execute("DROP TRIGGER audit_no_update")
        con.execute("DROP TRIGGER audit_no_delete")
        audit = 0
        for rid, entity_id, detail, reason in con.execute(
            """SELECT audit_id, entity_id, detail, reason FROM audit
               WHERE account_sha256 = ? OR instr(entity_id, ?) > 0 OR instr(detail, ?) > 0
                  OR instr(reason, ?) > 0""",
            (digest, account_id, account_id, account_id),
        ).fetchall():
            renamed = (
                _pseudonymize(entity_id, account_id, digest),
                _pseudonymize(detail, account_id, digest),
                _pseudonymize(reason, account_id, digest),
            )
            if renamed != (entity_id, detail, reason):
                con.execute(
                    "UPDATE audit SET entity_id = ?, detail = ?, reason = ? WHERE audit_id = ?",
                    (*renamed, rid),
                )
                audit += 1
        for trigger in _APPEND_ONLY:
            con.execute(trigger)
        changed["audit"] = audit
        con.execute(
            "INSERT INTO casebook_forget_requests VALUES (?, ?, ?)",
            (digest, now_text(), sum(changed.values())),
        )
    return changed
