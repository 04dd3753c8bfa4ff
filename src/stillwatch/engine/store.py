"""The store: one DuckDB file holding the canonical tables, the quarantine and the ingest record.

Only ``engine/`` opens connections. The file is created readable by its owner only, since it
holds prompts and IP addresses. No extension is ever downloaded: the ones used (json, parquet,
icu) are linked into DuckDB's Python package.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from stillwatch.errors import StoreError
from stillwatch.schema import ACCOUNTS, CANONICAL, ENFORCEMENTS, EXCHANGES, STORE_TYPES, Table
from stillwatch.settings import parse_size

SCHEMA_VERSION = "1"

# Bookkeeping columns every canonical table carries beside the schema's own.
BOOKKEEPING = {
    "exchanges": "_ingest_id BIGINT, _truncated VARCHAR[]",
    "accounts": "_ingest_id BIGINT, _row_hash VARCHAR",
    "enforcements": "_ingest_id BIGINT, _row_hash VARCHAR",
}


def column_ddl(table: Table) -> str:
    return ", ".join(f'"{c.name}" {STORE_TYPES[c.kind]}' for c in table.columns)


DDL = [
    "CREATE SEQUENCE IF NOT EXISTS ingest_id_seq START 1",
    "CREATE TABLE IF NOT EXISTS store_meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    f"CREATE TABLE IF NOT EXISTS exchanges ({column_ddl(EXCHANGES)}, {BOOKKEEPING['exchanges']})",
    f"CREATE TABLE IF NOT EXISTS accounts ({column_ddl(ACCOUNTS)}, {BOOKKEEPING['accounts']})",
    f"""CREATE TABLE IF NOT EXISTS accounts_history ({column_ddl(ACCOUNTS)},
        {BOOKKEEPING["accounts"]}, replaced_at TIMESTAMP, replaced_by_ingest BIGINT)""",
    f"""CREATE TABLE IF NOT EXISTS enforcements ({column_ddl(ENFORCEMENTS)},
        {BOOKKEEPING["enforcements"]})""",
    """CREATE TABLE IF NOT EXISTS quarantine (
        ingest_id BIGINT, table_name VARCHAR, file VARCHAR, line BIGINT,
        reason VARCHAR, raw VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS ingest_runs (
        ingest_id BIGINT PRIMARY KEY, run_id VARCHAR, table_name VARCHAR, file VARCHAR,
        format VARCHAR, content_sha256 VARCHAR, size_bytes BIGINT,
        rows_read BIGINT, accepted BIGINT, duplicates BIGINT, conflicts BIGINT,
        quarantined BIGINT, replaced BIGINT, truncated BIGINT, warnings VARCHAR[],
        started_at TIMESTAMP, finished_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS forget_requests (
        account_sha256 VARCHAR, done_at TIMESTAMP, rows_deleted BIGINT, tables VARCHAR)""",
]

# Tables that hold rows about one account, and the column naming it.
ACCOUNT_ROWS = {
    "exchanges": "account_id",
    "accounts": "account_id",
    "accounts_history": "account_id",
    "enforcements": "account_id",
}


class Store:
    """An open store. Use as a context manager, or call :meth:`close`."""

    def __init__(
        self,
        path: Path,
        con: duckdb.DuckDBPyConnection,
        umask: int | None,
        memory_limit: str = "1GB",
    ) -> None:
        self.path = path
        self.con = con
        self._umask = umask
        self.memory_limit = memory_limit

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()
        if self._umask is not None:
            os.umask(self._umask)
            self._umask = None

    def sql(self, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.con.execute(query, params or []).fetchall()

    def scalar(self, query: str, params: list[Any] | None = None) -> Any:
        rows = self.con.execute(
            query, params or []
        ).fetchall()  # fetched whole: frees the connection
        return rows[0][0] if rows else None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: an exception inside rolls back every write made inside."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    @contextmanager
    def memory_share(self, share: float) -> Iterator[None]:
        """Give DuckDB only ``share`` of the store's memory limit for a while: work that
        holds data outside DuckDB (ingest's Arrow batches) spends the rest."""
        try:
            limit = int(parse_size(self.memory_limit) * share)
        except ValueError:
            raise StoreError(
                f"memory limit {self.memory_limit!r}: not a size such as 1GB or 512MiB"
            ) from None
        self.con.execute(f"SET memory_limit = '{limit}B'")
        try:
            yield
        finally:
            self.con.execute(f"SET memory_limit = '{self.memory_limit}'")

    def counts(self) -> dict[str, int]:
        names = [*CANONICAL, "accounts_history", "quarantine", "ingest_runs", "forget_requests"]
        return {n: int(self.scalar(f"SELECT count(*) FROM {n}")) for n in names}

    def ibis(self) -> Any:
        """The same connection as an Ibis backend, for feature expressions."""
        import ibis

        return ibis.duckdb.from_connection(self.con)


def _owner_only(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        if p.exists():
            os.chmod(p, stat.S_IRUSR | stat.S_IWUSR)


def _connect(path: Path, read_only: bool, config: dict[str, Any]) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.IOException as exc:
        message = str(exc).splitlines()[0]
        if "lock" in message.lower():
            raise StoreError(
                f"{path}: in use by another stillwatch process; wait for it to finish"
            ) from None
        raise StoreError(f"{path}: cannot open as a DuckDB store: {message}") from None
    except duckdb.Error as exc:
        raise StoreError(f"{path}: cannot open as a DuckDB store: {exc}") from None


def _config(memory_limit: str, threads: int) -> dict[str, Any]:
    """Every connection: never download an extension, UTC, bounded memory."""
    config: dict[str, Any] = {
        "autoinstall_known_extensions": False,
        "memory_limit": memory_limit,
        "TimeZone": "UTC",
    }
    if threads:
        config["threads"] = threads
    return config


def scratch_connection(memory_limit: str = "1GB", threads: int = 0) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for work that must stay outside the store's transactions."""
    return duckdb.connect(":memory:", config=_config(memory_limit, threads))


def open_store(
    path: str | Path,
    *,
    create: bool = True,
    read_only: bool = False,
    memory_limit: str = "1GB",
    threads: int = 0,
) -> Store:
    """Open (and, when ``create``, make) the store at ``path``."""
    path = Path(path)
    if not path.exists() and not create:
        raise StoreError(f"{path}: no store here; run `stillwatch ingest` first or pass --store")
    if path.exists() and path.is_dir():
        raise StoreError(f"{path}: is a folder; the store is a single DuckDB file")
    if not path.parent.exists():
        raise StoreError(f"{path}: folder {path.parent} does not exist")
    config = _config(memory_limit, threads)
    # The file, its WAL and spill files are created owner-only while the store is open.
    old_umask = os.umask(0o077)
    try:
        con = _connect(path, read_only, config)
    except BaseException:
        os.umask(old_umask)
        raise
    store = Store(path, con, old_umask, memory_limit)
    if not read_only:
        for ddl in DDL:
            con.execute(ddl)
        con.execute(
            "INSERT INTO store_meta VALUES ('schema_version', ?) ON CONFLICT DO NOTHING",
            [SCHEMA_VERSION],
        )
        _owner_only(path)
    return store
