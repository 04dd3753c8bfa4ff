"""The store: one DuckDB file holding the canonical tables, the quarantine and the ingest record.

Only ``engine/`` opens connections. The file is created readable by its owner only, since it
holds prompts and IP addresses. No extension is ever downloaded: the ones used (json, parquet,
icu) are linked into DuckDB's Python package.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import duckdb

from stillwatch.engine.migrations import APPLICATION, LATEST, migrate
from stillwatch.errors import StoreError
from stillwatch.schema import CANONICAL
from stillwatch.settings import parse_size

SCHEMA_VERSION = LATEST

# Bookkeeping columns every canonical table carries beside the schema's own.
BOOKKEEPING = {
    "exchanges": ("_ingest_id", "_truncated"),
    "accounts": ("_ingest_id", "_row_hash"),
    "accounts_history": ("_ingest_id", "_row_hash", "replaced_at", "replaced_by_ingest"),
    "enforcements": ("_ingest_id", "_row_hash"),
}


class Store:
    """An open store. Use as a context manager, or call :meth:`close`."""

    def __init__(
        self,
        path: Path,
        con: duckdb.DuckDBPyConnection,
        umask: int | None,
        memory_limit: str = "1GB",
        config: dict[str, Any] | None = None,
    ) -> None:
        self.path = path
        self.con = con
        self._umask = umask
        self.memory_limit = memory_limit
        self._config = config or _config(memory_limit, 0)

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
        """All or nothing: an exception inside rolls back every write made inside.

        The store failing to write (a full disk, a file size limit) becomes a
        :class:`StoreError` saying so; the store stays as it was before the transaction.
        """
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException as exc:
            with suppress(duckdb.Error):  # a failed write may have ended the transaction
                self.con.execute("ROLLBACK")
            if isinstance(exc, duckdb.IOException | duckdb.FatalException):
                raise self._write_failed(exc) from None
            raise
        try:
            self.con.execute("COMMIT")
        except duckdb.Error as exc:
            with suppress(duckdb.Error):
                self.con.execute("ROLLBACK")
            raise self._write_failed(exc) from None

    def _write_failed(self, exc: BaseException) -> StoreError:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return StoreError(
            f"{self.path}: could not write the store ({message}); what this step wrote was "
            "rolled back: free disk space (or raise the file size limit) and rerun"
        )

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

    def rebuild(self) -> float:
        """Copy the store into a new file and put it in place of this one (atomic rename);
        returns the seconds it took. Deleted rows linger in a DuckDB file's free blocks until
        then; the copy holds only live rows. Needs the disk space of a second store for a
        while. Another process that opens the store during the copy waits for the lock."""
        started = time.perf_counter()
        fresh = self.path.with_name(self.path.name + ".rebuild")
        for p in (fresh, _wal(fresh)):
            p.unlink(missing_ok=True)
        name = self.scalar("SELECT current_database()")
        self.con.execute("CHECKPOINT")
        self.con.execute(f"ATTACH '{_sql_text(fresh)}' AS sw_rebuilt")
        try:
            self.con.execute(f'COPY FROM DATABASE "{name}" TO sw_rebuilt')
            self.con.execute("DETACH sw_rebuilt")
        except BaseException:
            self.con.execute("DETACH DATABASE IF EXISTS sw_rebuilt")
            fresh.unlink(missing_ok=True)
            raise
        _fsync(fresh)
        self.con.close()  # checkpoints: no write-ahead log is left beside the old file
        _wal(self.path).unlink(missing_ok=True)
        os.replace(fresh, self.path)
        _fsync(self.path.parent)
        self.con = _connect(self.path, False, self._config)
        return time.perf_counter() - started

    def counts(self) -> dict[str, int]:
        """Rows of every table, the canonical ones first."""
        tables = [r[0] for r in self.sql("SELECT table_name FROM duckdb_tables() ORDER BY 1")]
        names = [*CANONICAL, *(t for t in tables if t not in CANONICAL and t != "store_meta")]
        return {n: int(self.scalar(f'SELECT count(*) FROM "{n}"')) for n in names}

    def ibis(self) -> Any:
        """The same connection as an Ibis backend, for feature expressions."""
        import ibis

        return ibis.duckdb.from_connection(self.con)


# What an interrupted command sees: Ctrl-C while Python runs, or while DuckDB runs a query.
INTERRUPTED: tuple[type[BaseException], ...] = (KeyboardInterrupt, duckdb.InterruptException)


def is_interruption(exc: BaseException) -> bool:
    """True for Ctrl-C, however DuckDB's client reports it.

    During a query it raises a RuntimeError ("Query interrupted"); while it reads a Python
    object (an Arrow batch handed to SQL) it wraps the KeyboardInterrupt in an
    InvalidInputException whose message names it.
    """
    seen: BaseException | None = exc
    while seen is not None:
        text = str(seen)
        if isinstance(seen, INTERRUPTED) or text.startswith("Query interrupted"):
            return True
        if isinstance(seen, duckdb.Error) and "KeyboardInterrupt" in text:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _sql_text(path: Path) -> str:
    return str(path).replace("'", "''")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _owner_only(path: Path) -> None:
    for p in (path, _wal(path)):
        if p.exists():
            os.chmod(p, stat.S_IRUSR | stat.S_IWUSR)


# How long opening the store waits for another process's lock. The web server holds the store
# read-only for moments (docs/web.md); an ingest, scan or forget that starts in such a moment
# waits instead of failing. Generous: on a loaded machine those moments stretch (10 s once
# failed a forget beside a medium benchmark on two cores).
LOCK_WAIT_SECONDS = 30.0


def _connect(
    path: Path, read_only: bool, config: dict[str, Any], lock_wait: float = 0.0
) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + lock_wait
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=config)
        except duckdb.IOException as exc:
            message = str(exc).splitlines()[0]
            if "lock" in message.lower():
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
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


def sql_literal(text: str) -> str:
    """``text`` as an SQL string literal (quotes doubled)."""
    return "'" + text.replace("'", "''") + "'"


def query_arrow(con: Any, table: Any, alias: str, sql: str) -> None:
    """Run statement ``sql`` (an INSERT or CREATE reading ``alias``) over Arrow ``table``.

    Not through ``con.register``: inside a transaction (a scan runs in one) DuckDB keeps every
    registered object until the transaction ends, so a loop over batches would hold them all
    (a medium scan's content stages kept 2.2 GB that way)."""
    con.from_arrow(table).query(alias, sql)


def scratch_connection(memory_limit: str = "1GB", threads: int = 0) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for work that must stay outside the store's transactions."""
    return duckdb.connect(":memory:", config=_config(memory_limit, threads))


def _version(path: Path, config: dict[str, Any]) -> int:
    """The schema version of the store at ``path`` (0: an empty DuckDB file), read without
    writing anything; :class:`StoreError` when stillwatch did not make it."""
    con = _connect(path, True, config)
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        views = con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
        objects = tables | {r[0] for r in views}
        if not objects:
            return 0
        meta: dict[str, str] = {}
        if "store_meta" in tables:
            meta = dict(con.execute("SELECT key, value FROM store_meta").fetchall())
    finally:
        con.close()
    version = meta.get("schema_version", "")
    # Version 1 stores carry only their version; later ones also name their maker.
    ours = version == "1" or meta.get("application") == APPLICATION
    if not (ours and version.isdigit()):
        shown = ", ".join(sorted(objects)[:5]) + (", ..." if len(objects) > 5 else "")
        raise StoreError(
            f"{path}: not a stillwatch store (a DuckDB file holding {shown}); it was left "
            "untouched: pass --store with a new file name"
        )
    if int(version) > LATEST:
        raise StoreError(
            f"{path}: made by a newer stillwatch (store schema {version}, this one knows up to "
            f"{LATEST}); upgrade stillwatch to use it"
        )
    return int(version)


def open_store(
    path: str | Path,
    *,
    create: bool = True,
    read_only: bool = False,
    memory_limit: str = "1GB",
    threads: int = 0,
    lock_wait: float = LOCK_WAIT_SECONDS,
) -> Store:
    """Open (and, when ``create``, make) the store at ``path``; wait up to ``lock_wait`` seconds
    while another process holds it.

    A store made by an earlier stillwatch is migrated in place (see
    :mod:`stillwatch.engine.migrations`) unless opened read-only; a DuckDB file stillwatch
    did not make is refused before anything is written to it.
    """
    path = Path(path)
    if not path.exists() and not create:
        raise StoreError(f"{path}: no store here; run `stillwatch ingest` first or pass --store")
    if path.exists() and path.is_dir():
        raise StoreError(f"{path}: is a folder; the store is a single DuckDB file")
    if path.exists() and not path.is_file():
        raise StoreError(f"{path}: not a regular file; the store is a single DuckDB file")
    if not path.parent.exists():
        raise StoreError(f"{path}: folder {path.parent} does not exist")
    config = _config(memory_limit, threads)
    version = _version(path, config) if path.exists() else 0
    if read_only and version < LATEST:
        raise StoreError(
            f"{path}: store schema {version} is older than this stillwatch's ({LATEST}); "
            "open it once for writing (any command but a read-only one) to migrate it"
        )
    # The file, its WAL and spill files are created owner-only while the store is open.
    old_umask = os.umask(0o077)
    try:
        con = _connect(path, read_only, config, lock_wait)
    except BaseException:
        os.umask(old_umask)
        raise
    store = Store(path, con, old_umask, memory_limit, config)
    if not read_only:
        try:
            migrate(con, version)
        except BaseException:
            store.close()
            raise
        _owner_only(path)
    return store
