"""One ingest run: every file in its own transaction, counted, recorded in ``ingest_runs``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from stillwatch.engine.store import Store
from stillwatch.errors import InputError
from stillwatch.ingest.load import FileLoader, FileReport, file_sha256
from stillwatch.ingest.readers import open_reader, prefetched, total_units
from stillwatch.ingest.sources import SourceFile
from stillwatch.schema import CANONICAL

# progress(file, done, total): called as a file is read
Progress = Callable[[SourceFile, int, int], None]
# DuckDB gets half the store's memory limit while ingesting: the batches in flight, validated
# and waiting to be written, are Arrow tables outside DuckDB and spend the other half.
INGEST_MEMORY_SHARE = 0.5


@dataclass
class RunReport:
    run_id: str
    files: list[FileReport] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(int(getattr(f, name)) for f in self.files)

    def as_dict(self) -> dict[str, object]:
        totals = {
            k: self.total(k)
            for k in ("rows_read", "accepted", "duplicates", "conflicts", "quarantined", "replaced")
        }
        return {
            "run_id": self.run_id,
            "totals": totals,
            "files": [
                {
                    **{k: v for k, v in vars(f).items() if k != "unknown_columns"},
                    "warnings": f.warnings,
                }
                for f in self.files
            ],
            "errors": self.errors,
            "notes": self.notes,
        }


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _already(store: Store, source: SourceFile, digest: str) -> str:
    rows = store.sql(
        """SELECT ingest_id, finished_at FROM ingest_runs
           WHERE content_sha256 = ? AND table_name = ? ORDER BY ingest_id LIMIT 1""",
        [digest, source.table],
    )
    if not rows:
        return ""
    row = rows[0]
    return f"already ingested (ingest {row[0]} at {row[1]:%Y-%m-%d %H:%M:%S} UTC): nothing changed"


def _check_header(source: SourceFile, columns: list[str] | None) -> None:
    if columns is None:
        return
    table = CANONICAL[source.table]
    missing = [c for c in table.required if c not in columns]
    if missing:
        raise InputError(
            str(source.path),
            f"required column(s) {', '.join(missing)} missing from the header",
            f"the {source.table} columns of the schema: {', '.join(table.required)} at least",
        )


def ingest_file(
    store: Store,
    source: SourceFile,
    run_id: str,
    *,
    batch_rows: int,
    max_text_bytes: int,
    progress: Progress | None = None,
) -> FileReport:
    """Ingest one file in one transaction; raises :class:`InputError` with nothing stored."""
    try:
        size = source.path.stat().st_size
    except OSError as exc:
        raise _unreadable(source, exc) from None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="stillwatch-sha256") as pool:
        digest = pool.submit(_sha256, source)
        if _size_seen(store, source, size):  # it may be a file already ingested: look first
            skipped = _already(store, source, digest.result())
            if skipped:
                return FileReport(str(source.path), source.table, source.format, skipped=skipped)
        # No file of this size was ingested, so this one is new: it is hashed while it loads.
        return _load(
            store, source, run_id, digest, size,
            batch_rows=batch_rows, max_text_bytes=max_text_bytes, progress=progress,
        )  # fmt: skip


def _sha256(source: SourceFile) -> str:
    try:
        return file_sha256(source.path)
    except OSError as exc:
        raise _unreadable(source, exc) from None


def _unreadable(source: SourceFile, exc: OSError) -> InputError:
    return InputError(str(source.path), f"unreadable: {exc.strerror or exc}")


def _size_seen(store: Store, source: SourceFile, size: int) -> bool:
    return bool(
        store.sql(
            "SELECT 1 FROM ingest_runs WHERE size_bytes = ? AND table_name = ? LIMIT 1",
            [size, source.table],
        )
    )


def _load(
    store: Store,
    source: SourceFile,
    run_id: str,
    digest: Future[str],
    size: int,
    *,
    batch_rows: int,
    max_text_bytes: int,
    progress: Progress | None,
) -> FileReport:
    started = _now()
    clock = time.perf_counter()
    reader = open_reader(source, CANONICAL[source.table], batch_rows)
    _check_header(source, reader.columns)
    total = total_units(source)
    with store.transaction():
        ingest_id = int(store.scalar("SELECT nextval('ingest_id_seq')"))
        loader = FileLoader(store, source, ingest_id, max_text_bytes)
        try:
            for batch, stage in prefetched(loader.staged(reader.batches())):
                loader.load(batch, stage)
                del stage  # not kept while the next batch is awaited
                if progress:
                    progress(source, batch.progress, total)
            loader.finish()
        finally:
            loader.close()
        report = loader.report
        if reader.columns is not None:
            report.unknown_columns = sorted(
                set(reader.columns) - set(CANONICAL[source.table].names)
            )
        if report.rows_read == 0:
            raise InputError(str(source.path), "holds no rows")
        if source.format == "jsonl" and loader.parsed_rows == 0:
            raise InputError(
                str(source.path), "no line is a JSON object", "JSON Lines: one object per line"
            )
        report.seconds = time.perf_counter() - clock
        store.con.execute(
            "INSERT INTO ingest_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                ingest_id, run_id, source.table, str(source.path.resolve()), source.format,
                digest.result(), size, report.rows_read, report.accepted,
                report.duplicates, report.conflicts, report.quarantined, report.replaced,
                report.truncated, report.warnings, started, _now(),
            ],
        )  # fmt: skip
    return report


def ingest(
    store: Store,
    sources: list[SourceFile],
    *,
    batch_rows: int,
    max_text_bytes: int,
    progress: Progress | None = None,
) -> RunReport:
    """Ingest every file; a bad file is reported and skipped, the others go on."""
    run = RunReport(run_id=uuid.uuid4().hex[:12])
    with store.memory_share(INGEST_MEMORY_SHARE):
        for source in sources:
            try:
                run.files.append(
                    ingest_file(
                        store, source, run.run_id,
                        batch_rows=batch_rows, max_text_bytes=max_text_bytes, progress=progress,
                    )
                )  # fmt: skip
            except InputError as exc:
                run.errors.append(str(exc))
    return run
