"""Privacy requests: delete every row about one account, leave no byte of it in the store's
files, and record that it was done.

``ACCOUNT_DATA`` is the one place that says which tables hold account ids, in which column and
how a row is matched; ``ACCOUNT_FREE`` lists the tables that hold none, with the reason. A table
in neither, or a column named like an account that is not registered, fails
``tests/engine/test_forget.py``: a stage that adds a table adds it to one of the two.

How a row names the account:

- ``equals``: the column holds the id (rows are deleted);
- ``list``: the column is a list of ids (the id is removed from the list, the row stays);
- ``raw``: the column is a quarantined row's raw text. A JSON object names the account by its
  ``account_id`` field (any string or number inside it, nested or repeated keys too); a CSV
  record is read with its file's header (``ingest_runs.columns``); any other text, or a JSON
  object without that field, names it where the id stands between token boundaries (not
  between letters, digits, ``_`` or ``-``). A record of a log dialect (``ingest_runs.source``
  other than canonical: an OpenAI envelope, a LiteLLM spend log, an OTLP export…) may name its
  account in any field (the ``*_account_from`` settings choose), so it is the account's when
  the id stands between token boundaries in its text or in any of its values. Known false
  positive: an account's id quoted in another row's unparseable text (or, for a dialect
  record, anywhere in it) deletes that row too (better too much than too little).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import pyarrow as pa

from stillwatch.engine.campaign_tables import CAMPAIGN_ACCOUNT_ROWS
from stillwatch.engine.detection_tables import DETECTION_ACCOUNT_ROWS
from stillwatch.engine.intel_tables import INTEL_ACCOUNT_ROWS
from stillwatch.engine.store import Store
from stillwatch.errors import UsageError

How = Literal["equals", "list", "raw"]


@dataclass(frozen=True)
class AccountData:
    table: str
    column: str
    how: How = "equals"


ACCOUNT_DATA: tuple[AccountData, ...] = (
    AccountData("exchanges", "account_id"),
    AccountData("accounts", "account_id"),
    AccountData("accounts_history", "account_id"),
    AccountData("enforcements", "account_id"),
    AccountData("quarantine", "raw", "raw"),
    *(AccountData(table, column) for table, column in INTEL_ACCOUNT_ROWS.items()),
    *(AccountData(table, column) for table, column in DETECTION_ACCOUNT_ROWS.items()),
    *(AccountData(table, column) for table, column in CAMPAIGN_ACCOUNT_ROWS.items()),
)

ACCOUNT_FREE: dict[str, str] = {
    "store_meta": "the store's version and maker",
    "ingest_runs": "per-file counts, hashes and headers; no row content",
    "forget_requests": "the forgotten id only as its SHA-256",
    "intel_bundles": "partners' bundles: counts and identities, no account",
    "intel_indicators": "partners' indicators: keyed hashes, signatures, datacenter prefixes",
    "intel_match_runs": "per-run counts",
    "scans": "what each scan read, its settings and counts; no account",
    "campaigns": "campaign figures and shared values (API key and end-user ids, prefixes); no account id",
    "operators": "which campaigns an operator ran; no account",
}
# Columns whose names speak of accounts but hold no account id.
NOT_ACCOUNT_IDS: frozenset[tuple[str, str]] = frozenset(
    {
        ("forget_requests", "account_sha256"),
        ("ingest_runs", "account_from"),  # the dialect setting used, e.g. ``team,user,key``
    }
)

_TOKEN = "0-9A-Za-z_-"


@dataclass
class Forgotten:
    deleted: dict[str, int]  # rows per table (or ids removed from lists)
    rewrite_seconds: float  # copying the store into a fresh file

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


def forget_account(store: Store, account_id: str, *, rewrite: bool = True) -> Forgotten:
    """Delete the account's rows everywhere; then (``rewrite``) rebuild the store's file so
    the deleted bytes are gone from disk, write-ahead log included.

    The request is recorded by the SHA-256 of the id, not the id itself.
    """
    if not account_id.strip():
        raise UsageError("forget: the account id is empty; give the id of one account")
    deleted: dict[str, int] = {}
    with store.transaction():
        for entry in ACCOUNT_DATA:
            key = entry.table if entry.table not in deleted else f"{entry.table}.{entry.column}"
            deleted[key] = _forget_in(store, entry, account_id)
        store.con.execute(
            "INSERT INTO forget_requests VALUES (?, ?, ?, ?)",
            [
                hashlib.sha256(account_id.encode()).hexdigest(),
                datetime.now(UTC).replace(tzinfo=None),
                sum(deleted.values()),
                ",".join(t for t, n in deleted.items() if n),
            ],
        )
    seconds = store.rebuild() if rewrite else 0.0
    return Forgotten(deleted, seconds)


def _forget_in(store: Store, entry: AccountData, account_id: str) -> int:
    table, col = entry.table, f'"{entry.column}"'
    if entry.how == "equals":
        n = store.scalar(f"SELECT count(*) FROM {table} WHERE {col} = ?", [account_id])
        store.con.execute(f"DELETE FROM {table} WHERE {col} = ?", [account_id])
        return int(n)
    if entry.how == "list":
        n = store.scalar(
            f"SELECT count(*) FROM {table} WHERE list_contains({col}, ?)", [account_id]
        )
        store.con.execute(
            f"UPDATE {table} SET {col} = list_filter({col}, x -> x <> $1) "
            f"WHERE list_contains({col}, $1)",
            [account_id],
        )
        return int(n)
    return _forget_raw(store, entry, account_id)


def _forget_raw(store: Store, entry: AccountData, account_id: str) -> int:
    """Rows whose raw text names the account (rules in the module's docstring)."""
    # Only text that holds the id, or could hold it escaped (JSON, CSV quoting), is read.
    quoted = account_id.replace('"', '""')
    candidates = store.sql(
        f"""SELECT t.rowid, t."{entry.column}", r.format, r.columns,
                   coalesce(r.source, 'canonical') <> 'canonical'
            FROM {entry.table} t LEFT JOIN ingest_runs r USING (ingest_id)
            WHERE contains(t."{entry.column}", $1) OR contains(t."{entry.column}", '\\')
               OR contains(t."{entry.column}", $2)""",
        [account_id, quoted],
    )
    gone = [
        rowid
        for rowid, raw, fmt, columns, dialect in candidates
        if raw is not None
        and names_account(raw, account_id, columns if fmt == "csv" else None, bool(dialect))
    ]
    if gone:
        rowids = pa.table({"rowid": pa.array(gone, pa.int64())})  # noqa: F841 - read by SQL
        store.con.execute(f"DELETE FROM {entry.table} WHERE rowid IN (SELECT rowid FROM rowids)")
    return len(gone)


def names_account(
    raw: str, account_id: str, csv_header: list[str] | None = None, dialect: bool = False
) -> bool:
    """Whether a quarantined row's raw text is the account's (see the module's docstring)."""
    try:
        parsed = json.loads(raw, object_pairs_hook=list)
    except (ValueError, RecursionError):
        parsed = None
    if dialect:
        leaves = "\n".join(_leaves(parsed)) if parsed is not None else ""
        return _token_match(raw, account_id) or _token_match(leaves, account_id)
    if isinstance(parsed, list) and all(isinstance(p, tuple) for p in parsed) and parsed:
        fields = [v for k, v in parsed if k == "account_id"]
        if fields:
            return any(account_id in _leaves(v) for v in fields)
        return _token_match(raw, account_id) or _token_match("\n".join(_leaves(parsed)), account_id)
    if csv_header and "account_id" in csv_header:
        at = csv_header.index("account_id")
        try:
            record = next(csv.reader(io.StringIO(raw)), [])
        except csv.Error:
            record = []
        if len(record) > at:
            return record[at] == account_id or record[at].strip() == account_id
    return _token_match(raw, account_id)


def _leaves(value: Any) -> list[str]:
    """Every string and number inside a parsed JSON value, as text."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int | float):
        return [json.dumps(value)]
    if isinstance(value, tuple):  # a (key, value) pair of an object
        return _leaves(value[1])
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return []


def _token_match(text: str, account_id: str) -> bool:
    pattern = rf"(?<![{_TOKEN}]){re.escape(account_id)}(?![{_TOKEN}])"
    return re.search(pattern, text) is not None
