"""forget: the registry covers the store's schema, quarantined rows are matched by what they
say, and no byte of the account stays in the store's files."""

from __future__ import annotations

from pathlib import Path

import pytest

from stillwatch.engine.forget import (
    ACCOUNT_DATA,
    ACCOUNT_FREE,
    NOT_ACCOUNT_IDS,
    forget_account,
    names_account,
)
from stillwatch.engine.store import Store, open_store
from stillwatch.errors import UsageError
from tests.ingest.helpers import exchange, run, write_jsonl


def _columns(store: Store) -> dict[str, set[str]]:
    """Each table's text columns (ids are text; a count such as `partner_accounts` is not)."""
    found: dict[str, set[str]] = {}
    for table, column, kind in store.sql(
        """SELECT c.table_name, c.column_name, c.data_type FROM duckdb_columns() c
           JOIN duckdb_tables() t USING (database_name, schema_name, table_name)
           WHERE c.database_name = current_database()"""
    ):
        found.setdefault(table, set())
        if kind.startswith("VARCHAR"):
            found[table].add(column)
    return found


def test_registry_matches_the_store_schema(store: Store) -> None:
    """Every table is either registered for forget or declared free of account ids; every
    column named like an account is registered. A stage adding a table must say which."""
    schema = _columns(store)
    registered = {(e.table, e.column) for e in ACCOUNT_DATA}
    for table, column in registered:
        assert column in schema.get(table, set()), f"registered {table}.{column} does not exist"
    for table, columns in schema.items():
        holds = {c for t, c in registered if t == table}
        assert holds or table in ACCOUNT_FREE, (
            f"table {table} is neither registered in ACCOUNT_DATA nor listed in ACCOUNT_FREE "
            "(stillwatch/engine/forget.py)"
        )
        for column in columns:
            if "account" in column.lower() and (table, column) not in NOT_ACCOUNT_IDS:
                assert (table, column) in registered, (
                    f"{table}.{column} looks like an account id but is not registered for forget"
                )


def test_registry_check_catches_an_unregistered_table(store: Store) -> None:
    store.con.execute("CREATE TABLE account_notes (scan_id BIGINT, account_id VARCHAR)")
    with pytest.raises(AssertionError, match="account_notes"):
        test_registry_matches_the_store_schema(store)


def _quarantine(store: Store, raws: list[str], ingest_id: int = 1) -> None:
    for line, raw in enumerate(raws, 1):
        store.con.execute(
            "INSERT INTO quarantine (ingest_id, table_name, file, line, reason, raw) "
            "VALUES (?, 'exchanges', 'f', ?, 'r', ?)",
            [ingest_id, line, raw],
        )


def _kept(store: Store) -> list[int]:
    return [r[0] for r in store.sql("SELECT line FROM quarantine ORDER BY line")]


def test_forget_quarantine_matches_the_account_not_a_pattern(store: Store) -> None:
    _quarantine(
        store,
        [
            '{"account_id": "acct_1", "ts": "bad"}',  # the account's: goes
            '{"account_id": "acct_10", "ts": "bad"}',  # another account whose id contains it
            '{"account_id": "acctX1", "ts": "bad"}',  # "_" is no wildcard
            '{"account_id": "acct_2", "prompt": "ask acct_1 about it"}',  # only mentions it
            "not json at all, acct_1 somewhere",  # no account field: the id as a token
            "not json, acct_3",
            "not json, acct_10 only",  # case 14: acct1 is not a token of acct10
            '{"account_id": {"id": "acct_1"}, "ts": "x"}',  # case 14: nested
            '{"account_id": "acct_2", "account_id": "acct_1"}',  # repeated key
            '{"account_id": "caf\\u00e9_1"}',  # escaped: matched once decoded
        ],
    )
    done = forget_account(store, "acct_1", rewrite=False)
    assert done.deleted["quarantine"] == 4
    assert _kept(store) == [2, 3, 4, 6, 7, 10]
    forget_account(store, "café_1", rewrite=False)
    assert _kept(store) == [2, 3, 4, 6, 7]


def test_forget_empty_id_is_a_usage_error(store: Store) -> None:
    """Case 14: `forget ""` matched every raw line."""
    _quarantine(store, ['{"account_id": "a"}', "plain text"])
    for blank in ("", "  "):
        with pytest.raises(UsageError, match="empty"):
            forget_account(store, blank)
    assert _kept(store) == [1, 2]


def test_csv_records_are_read_with_their_header(tmp_path: Path, store: Store) -> None:
    """Case 14: a broken CSV record is the account's by its account_id field."""
    (tmp_path / "ex.csv").write_text(
        "event_id,ts,account_id,model,prompt\n"
        "e1,2026-04-22T00:00:00Z,acct1,m,fine\n"
        "e2,2026-04-22T00:00:00Z,acct1,m,too,many\n"  # acct1's broken record
        "e3,2026-04-22T00:00:00Z,acct10,m,x,y\n"  # acct10's
        "e4,2026-04-22T00:00:00Z,acct2,m,about acct1,z\n"  # acct2's, mentions acct1
    )
    run(store, tmp_path / "ex.csv")
    assert _kept(store) == [3, 4, 5]
    assert names_account("e9,t,acct1,m", "acct1", ["event_id", "ts", "account_id", "model"])
    done = forget_account(store, "acct1", rewrite=False)
    assert (done.deleted["quarantine"], done.deleted["exchanges"]) == (1, 1)
    assert _kept(store) == [4, 5]


def test_no_byte_of_the_account_stays_in_the_files(tmp_path: Path) -> None:
    """Case 15: deleted prompts stayed readable in the store file's free blocks."""
    path = tmp_path / "s.duckdb"
    secret = "forget-me-prompt-7d1c"
    rows = [exchange(i, account_id="victim", prompt=f"{secret} {i}") for i in range(200)]
    rows += [exchange(1000 + i, account_id="other", prompt=f"keep {i}") for i in range(200)]
    rows += ['{"account_id": "victim", "ts": "bad", "prompt": "' + secret + '"}']
    with open_store(path) as store:
        run(store, write_jsonl(tmp_path / "ex.jsonl", rows))
        store.con.execute("CHECKPOINT")
    assert secret.encode() in path.read_bytes()
    with open_store(path) as store:
        done = forget_account(store, "victim")
        assert done.rewrite_seconds > 0
        assert store.scalar("SELECT count(*) FROM exchanges") == 200
        # the store works on: ingest ids go on from where they were
        run(store, write_jsonl(tmp_path / "more.jsonl", [exchange(5000)]))
        assert store.scalar("SELECT max(ingest_id) FROM ingest_runs") == 2
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith("s.duckdb")]
    assert [p.name for p in leftovers] == ["s.duckdb"]
    for p in leftovers:
        data = p.read_bytes()
        assert secret.encode() not in data and b"victim" not in data, p.name
    assert (path.stat().st_mode & 0o777) == 0o600
