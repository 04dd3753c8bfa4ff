"""One ingest run: every file in its own transaction, counted, recorded in ``ingest_runs``."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from stillwatch.engine.store import Store
from stillwatch.errors import InputError
from stillwatch.ingest.dialects import DETECT_THRESHOLD, Dialect, adapter, detect
from stillwatch.ingest.load import FileLoader, FileReport, file_sha256
from stillwatch.ingest.mapped import MappedReader
from stillwatch.ingest.readers import Batch, check_regular, open_reader, prefetched, total_units
from stillwatch.ingest.records import RecordReader
from stillwatch.ingest.sources import SourceFile
from stillwatch.ingest.stage import Validator
from stillwatch.schema import CANONICAL

# progress(file, done, total): called as a file is read
Progress = Callable[[SourceFile, int, int], None]
MAX_RECORD_BYTES = 64 * 1024 * 1024  # default of the setting max_record_bytes
# An explicit --source this unsure of a file that reads surely as another dialect is refused.
MISMATCH = 0.2
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
            for k in (
                "rows_read", "accepted", "duplicates", "conflicts", "quarantined", "replaced",
                "records_read", "rows_mapped", "parts_quarantined", "accounts_added",
            )
        }  # fmt: skip
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


def _already(store: Store, source: SourceFile, digest: str, how: tuple[str, str]) -> str:
    """An earlier ingest of the same content, read the same way (dialect, account source)."""
    rows = store.sql(
        """SELECT ingest_id, finished_at FROM ingest_runs
           WHERE content_sha256 = ? AND table_name = ? AND coalesce(source, 'canonical') = ?
             AND coalesce(account_from, '') = ?
           ORDER BY ingest_id LIMIT 1""",
        [digest, source.table, *how],
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
    conflict_window: int = 86_400,
    dialect_settings: Mapping[str, Any] | Any = None,
    max_record_bytes: int = MAX_RECORD_BYTES,
    again: bool = False,
) -> FileReport:
    """Ingest one file in one transaction; raises :class:`InputError` with nothing stored.

    An exchanges file is read in its dialect (``source.dialect``; ``auto`` tells it from the
    first records), with the ``*_account_from`` choices of ``dialect_settings``. A file
    already ingested is skipped unless ``again`` (an API batch is judged row by row: a batch
    sent twice comes back as duplicates)."""
    check_regular(source.path)  # before any read: a pipe or device would block the hashing
    try:
        size = source.path.stat().st_size
    except OSError as exc:
        raise _unreadable(source, exc) from None
    if size == 0:
        raise InputError(str(source.path), "empty file")
    dialect, note = choose_dialect(source, dialect_settings, max_record_bytes)
    how = (dialect.name, ",".join(dialect.account_order)) if dialect else ("canonical", "")
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="stillwatch-sha256") as pool:
        digest = pool.submit(_sha256, source)
        if not again and _size_seen(store, source, size):  # it may be one already ingested
            skipped = _already(store, source, digest.result(), how)
            if skipped:
                return FileReport(
                    str(source.path), source.table, source.format, skipped=skipped, source=how[0]
                )
        # No file of this size was ingested, so this one is new: it is hashed while it loads.
        report = _load(
            store, source, run_id, digest, size, dialect,
            batch_rows=batch_rows, max_text_bytes=max_text_bytes, progress=progress,
            conflict_window=conflict_window, max_record_bytes=max_record_bytes,
        )  # fmt: skip
    if note and report.accepted == 0:
        report.notes.append(note)
    return report


def choose_dialect(
    source: SourceFile, settings: Mapping[str, Any] | Any, max_record_bytes: int
) -> tuple[Dialect | None, str]:
    """The adapter an exchanges file is read with (None: the canonical reader), and a note
    for the run when ``auto`` recognised no dialect."""
    if source.table != "exchanges" or source.dialect == "canonical":
        return None, ""
    if source.format == "parquet":
        if source.dialect == "auto":
            return None, ""
        raise InputError(
            str(source.path),
            f"--source {source.dialect} reads JSON Lines or CSV, not Parquet",
            "a .jsonl or .csv export (or --source canonical for canonical Parquet)",
        )
    sample = RecordReader(source, max_record_bytes).sample()
    found, scores = detect(sample, settings)
    if source.dialect == "auto":
        if found is None:
            best = max(scores, key=lambda n: scores[n])
            note = (
                f"no log dialect recognised (closest: {best}, confidence {scores[best]:.2f} "
                f"< {DETECT_THRESHOLD}): read as canonical rows; for a log export, pass --source"
            )
            return None, note
        return adapter(found, settings), ""
    chosen = adapter(source.dialect, settings)
    if found is not None and found != chosen.name and scores[chosen.name] < MISMATCH:
        raise InputError(
            str(source.path),
            f"reads as {found} (confidence {scores[found]:.2f}), not {chosen.name} "
            f"({scores[chosen.name]:.2f})",
            f"--source {found}, or --source auto",
        )
    return chosen, ""


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
    dialect: Dialect | None,
    *,
    batch_rows: int,
    max_text_bytes: int,
    progress: Progress | None,
    conflict_window: int,
    max_record_bytes: int,
) -> FileReport:
    started = _now()
    clock = time.perf_counter()
    reader: Any
    validate_as = None
    if dialect is None:
        reader = open_reader(source, CANONICAL[source.table], batch_rows, max_text_bytes)
        _check_header(source, reader.columns)
    else:
        reader = MappedReader(source, dialect, batch_rows, max_text_bytes, max_record_bytes)
        validate_as = replace(source, format="jsonl")  # mapped rows come as JSON text
    total = total_units(source)
    with store.transaction():
        ingest_id = int(store.scalar("SELECT nextval('ingest_id_seq')"))
        loader = FileLoader(
            store, source, ingest_id, max_text_bytes, conflict_window, validate_as=validate_as
        )
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
        if dialect is not None:
            _mapping_counts(report, reader, dialect)
            report.accounts_added = _add_accounts(store, source, ingest_id, reader, max_text_bytes)
        elif reader.columns is not None:
            report.unknown_columns = sorted(
                set(reader.columns) - set(CANONICAL[source.table].names)
            )
        if dialect is not None and report.records_read == 0:
            raise InputError(str(source.path), "holds no records")
        if dialect is None and report.rows_read == 0:
            raise InputError(str(source.path), "holds no rows")
        parsed = reader.objects if dialect is not None else loader.parsed_rows
        if source.format == "jsonl" and parsed == 0:
            raise InputError(
                str(source.path), "no line is a JSON object", "JSON Lines: one object per line"
            )
        report.seconds = time.perf_counter() - clock
        store.con.execute(
            """INSERT INTO ingest_runs BY NAME SELECT ? AS ingest_id, ? AS run_id,
                   ? AS table_name, ? AS file, ? AS format, ? AS content_sha256,
                   ? AS size_bytes, ? AS rows_read, ? AS accepted, ? AS duplicates,
                   ? AS conflicts, ? AS quarantined, ? AS replaced, ? AS truncated,
                   ?::VARCHAR[] AS warnings, ? AS started_at, ? AS finished_at,
                   ?::VARCHAR[] AS columns, ? AS source, ? AS account_from,
                   ? AS records_read, ? AS rows_mapped, ?::JSON AS skipped,
                   ?::JSON AS unmapped""",
            [
                ingest_id, run_id, source.table, source.label or str(source.path.resolve()),
                source.format,
                digest.result(), size, report.rows_read, report.accepted,
                report.duplicates, report.conflicts, report.quarantined, report.replaced,
                report.truncated, report.warnings, started, _now(), reader.columns,
                report.source, report.account_from or None,
                report.records_read if dialect else None,
                report.rows_mapped if dialect else None,
                json.dumps(report.parts_skipped) if dialect else None,
                json.dumps(report.unmapped) if dialect else None,
            ],
        )  # fmt: skip
    return report


def _mapping_counts(report: FileReport, reader: MappedReader, dialect: Dialect) -> None:
    mapping = reader.report
    report.source = dialect.name
    report.account_from = ",".join(dialect.account_order)
    report.records_read = mapping.records
    report.records = dict(reader.outcomes)
    report.rows_mapped = mapping.exchanges
    report.parts_quarantined = mapping.quarantined
    report.parts_skipped = dict(mapping.skipped.most_common())
    report.unmapped = dict(mapping.unmapped.most_common())
    report.unmapped_more = mapping.unmapped_more


def _add_accounts(
    store: Store, source: SourceFile, ingest_id: int, reader: MappedReader, max_text_bytes: int
) -> int:
    """Accounts rows the records named (a LiteLLM team's alias), each once: an account the
    store does not know yet is added; a known one is left as it is, since registration data
    given as an accounts file outranks what a log says in passing."""
    if not reader.accounts:
        return 0
    named = sorted(reader.accounts.values(), key=lambda item: item[0])
    batch = Batch(
        pa.table(
            {
                "_line": pa.array([line for line, _ in named], pa.int64()),
                "_text": pa.array([json.dumps(row, ensure_ascii=False) for _, row in named]),
            }
        )
    )
    validator = Validator(SourceFile(source.path, "accounts", "jsonl", source.gzip), max_text_bytes)
    try:
        stage = validator.stage(batch)  # noqa: F841 - read by the SQL below
    finally:
        validator.close()
    columns = ", ".join(f'"{c}"' for c in CANONICAL["accounts"].names)
    # DuckDB finds ``stage`` among this frame's variables: the query runs from here.
    added = store.con.execute(
        f"""INSERT INTO accounts
            SELECT {columns}, {ingest_id}, _row_hash FROM stage
            WHERE _reason IS NULL AND account_id NOT IN (SELECT account_id FROM accounts)
            QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY _line) = 1"""
    ).fetchall()
    return int(added[0][0]) if added else 0


def ingest(
    store: Store,
    sources: list[SourceFile],
    *,
    batch_rows: int,
    max_text_bytes: int,
    progress: Progress | None = None,
    conflict_window: int = 86_400,
    dialect_settings: Mapping[str, Any] | Any = None,
    max_record_bytes: int = MAX_RECORD_BYTES,
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
                        conflict_window=conflict_window, dialect_settings=dialect_settings,
                        max_record_bytes=max_record_bytes,
                    )
                )  # fmt: skip
            except InputError as exc:
                run.errors.append(str(exc))
    return run
