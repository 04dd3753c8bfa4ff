"""Load one file into the store: validate each batch in SQL (:meth:`FileLoader.staged`, run
ahead in a background thread), sort its rows into accepted, duplicate, conflict and
quarantined, and write them (:meth:`FileLoader.load`), all in one transaction per file.

Duplicates are found by joining each batch against the stored keys inside DuckDB, which
builds its hash table on the batch (the smaller side) and spills to disk past its memory
limit: memory follows the batch, not the store. The stored keys looked at are those of the
batch's time span (see :meth:`FileLoader._stored_exchanges`), so time follows the batch too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from stillwatch.engine.store import Store
from stillwatch.ingest.readers import RAW_LIMIT, Batch
from stillwatch.ingest.sources import SourceFile
from stillwatch.ingest.stage import Validator
from stillwatch.ingest.validate import raw_expression, row_hash
from stillwatch.schema import CANONICAL, Table


@dataclass
class FileReport:
    file: str
    table: str
    format: str
    rows_read: int = 0
    accepted: int = 0
    duplicates: int = 0
    conflicts: int = 0
    quarantined: int = 0
    replaced: int = 0
    truncated: int = 0
    naive_timestamps: int = 0
    named_zones: int = 0
    unlisted_actions: int = 0
    unknown_columns: list[str] = field(default_factory=list)
    skipped: str = ""  # why the file was not read (already ingested)
    seconds: float = 0.0
    # A dialect file (``--source``): what its records became before validation.
    source: str = "canonical"
    account_from: str = ""
    records_read: int = 0
    records: dict[str, int] = field(default_factory=dict)  # by outcome: mapped, quarantined, …
    rows_mapped: int = 0
    parts_quarantined: int = 0  # by the adapter or the record reader, before validation
    parts_skipped: dict[str, int] = field(default_factory=dict)  # not model calls, by reason
    unmapped: dict[str, int] = field(default_factory=dict)  # field -> records holding it
    unmapped_more: int = 0
    accounts_added: int = 0  # accounts rows the records named, new to the store
    notes: list[str] = field(default_factory=list)
    ingest_id: int = 0

    @property
    def warnings(self) -> list[str]:
        notes = list(self.notes)
        if self.unknown_columns:
            notes.append("ignored unknown column(s): " + ", ".join(self.unknown_columns))
        if self.naive_timestamps:
            notes.append(
                f"{self.naive_timestamps} row(s) had a timestamp without time zone: read as UTC"
            )
        if self.named_zones:
            notes.append(
                f"{self.named_zones} row(s) had a timestamp with a named time zone: converted "
                "to UTC by that zone's rules"
            )
        if self.unlisted_actions:
            notes.append(
                f"{self.unlisted_actions} row(s) had an action other than suspend, ban, "
                "throttle, challenge, reinstate: kept as given"
            )
        if self.truncated:
            notes.append(
                f"{self.truncated} row(s) had text over the size limit: truncated, flagged"
            )
        return notes

    def add_up(self) -> bool:
        rows = self.rows_read == self.accepted + self.duplicates + self.conflicts + self.quarantined
        if self.source == "canonical":
            return rows
        return (
            rows
            and self.rows_read == self.rows_mapped + self.parts_quarantined
            and self.records_read == sum(self.records.values())
        )


def file_sha256(path: Any) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


class FileLoader:
    """Writes the batches of one file; the caller holds the transaction."""

    def __init__(
        self,
        store: Store,
        source: SourceFile,
        ingest_id: int,
        max_text_bytes: int,
        conflict_window: int = 86_400,
        validate_as: SourceFile | None = None,
    ) -> None:
        self.store = store
        self.conflict_window = conflict_window
        self.source = source
        self.table: Table = CANONICAL[source.table]
        self.ingest_id = ingest_id
        # A dialect file's mapped rows come as JSON Lines text, whatever the file's format.
        self.validator = Validator(validate_as or source, max_text_bytes)
        self.report = FileReport(source.label or str(source.path), source.table, source.format)
        self.report.ingest_id = ingest_id
        self.parsed_rows = 0  # rows the file's format could parse (JSON objects)
        self._tables: dict[str, pa.Table] = {}

    def _run(self, query: str, params: list[Any] | None = None, arrow: bool = False) -> Any:
        """Run SQL that may name this batch's Arrow tables (``stage``, ``again``, ``judged``,
        ``changes``). DuckDB finds them as this frame's local variables (a replacement scan):
        ``register()`` would leave a catalog entry, and the table with it, alive until the
        file's transaction ends, so memory would grow with the file."""
        stage = self._tables.get("stage")  # noqa: F841
        again = self._tables.get("again")  # noqa: F841
        judged = self._tables.get("judged")  # noqa: F841
        changes = self._tables.get("changes")  # noqa: F841
        if arrow:
            return self.store.con.sql(query, params=params).to_arrow_table()
        return self.store.con.execute(query, params or []).fetchall()

    def _sql(self, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return list(self._run(query, params))

    def _scalar(self, query: str) -> Any:
        return self._sql(query)[0][0]

    def _keep(self, name: str, query: str) -> None:
        """Materialize ``query`` as the Arrow table ``name`` for the rest of the batch."""
        self._tables[name] = self._run(query, arrow=True)

    def staged(self, batches: Iterator[Batch]) -> Iterator[tuple[Batch, pa.Table | None]]:
        """Each batch with its rows validated (None when it has no rows). The rows as read
        are let go once validated: only the validated ones are kept for writing."""
        for batch in batches:
            stage = None if batch.empty else self.validator.stage(batch)
            batch.rows = None
            yield batch, stage
            del stage

    def load(self, batch: Batch, stage: pa.Table | None) -> None:
        """Write one batch, validated by :meth:`staged`."""
        self._quarantine_rejected(batch)
        if stage is None:
            return
        # A unique row number: a dialect record may map to several rows on one line.
        stage = stage.append_column("_row", pa.array(np.arange(stage.num_rows, dtype=np.int64)))
        self._tables = {"stage": stage}
        try:
            read, bad, naive, named, unlisted, truncated, objects = self._sql(
                """SELECT count(*), count(*) FILTER (_reason IS NOT NULL),
                          coalesce(sum(_naive) FILTER (_reason IS NULL), 0),
                          coalesce(sum(_named) FILTER (_reason IS NULL), 0),
                          coalesce(sum(_unlisted) FILTER (_reason IS NULL), 0),
                          count(*) FILTER (_truncated IS NOT NULL AND _reason IS NULL),
                          count(*) FILTER (_pre IS NULL)
                   FROM stage"""
            )[0]
            r = self.report
            r.rows_read += int(read)
            r.quarantined += int(bad)
            r.naive_timestamps += int(naive)
            r.named_zones += int(named)
            r.unlisted_actions += int(unlisted)
            r.truncated += int(truncated)
            self.parsed_rows += int(objects)
            if bad:
                self._quarantine_invalid()
            {"exchanges": self._write_keyed, "accounts": self._write_snapshot}.get(
                self.table.name, self._write_events
            )()
        finally:
            self._tables = {}

    def _quarantine_rejected(self, batch: Batch) -> None:
        if not batch.rejected:
            return
        self.store.con.executemany(
            """INSERT INTO quarantine (ingest_id, table_name, file, line, reason, raw, part)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            [
                [
                    self.ingest_id,
                    self.table.name,
                    self.report.file,
                    x.line,
                    x.reason,
                    x.raw,
                    x.part or None,
                ]
                for x in batch.rejected
            ],
        )
        self.report.rows_read += len(batch.rejected)
        self.report.quarantined += len(batch.rejected)

    def _quarantine_invalid(self) -> None:
        self._sql(
            """INSERT INTO quarantine (ingest_id, table_name, file, line, reason, raw)
               SELECT ?, ?, ?, _line, _reason, _raw
               FROM stage WHERE _reason IS NOT NULL ORDER BY _line, _row""",
            [self.ingest_id, self.table.name, self.report.file],
        )

    # -- writing ---------------------------------------------------------------------------
    def _columns(self, prefix: str = "") -> str:
        return ", ".join(f'{prefix}"{c}"' for c in self.table.names)

    def _quarantine_conflicts(self, where: str, other_hash: str) -> None:
        raw = raw_expression({c: f'"{c}"' for c in self.table.names})
        self._sql(
            f"""INSERT INTO quarantine (ingest_id, table_name, file, line, reason, raw)
                SELECT ?, ?, ?, _line,
                       'conflict: ' || {self._key_label()} || ' was seen before with other '
                       || 'content (kept: ' || {other_hash} || ', this row: ' || _row_hash || ')',
                       left(CAST({raw} AS VARCHAR), {RAW_LIMIT})
                FROM judged WHERE {where} ORDER BY _line, _row""",
            [self.ingest_id, self.table.name, self.report.file],
        )

    def _key_label(self) -> str:
        key = self.table.key[0]
        return f"'{key} ' || \"{key}\""

    def _write_keyed(self) -> None:
        """Exchanges: an id seen again is a duplicate (same content) or a conflict (other).

        The bulk of a batch holds new ids and is inserted as it is; only ids seen before (in
        the store, or earlier in the batch) are compared, by content hash, row by row. A batch
        is written by one INSERT: a small INSERT between large ones leaves row groups that the
        next checkpoint has to rewrite.
        """
        stored = self._stored_exchanges()
        self._keep(
            "again",
            f"""            SELECT event_id FROM stage WHERE _reason IS NULL
            GROUP BY event_id HAVING count(*) > 1
            UNION
            SELECT event_id FROM {stored}
            WHERE event_id IN (SELECT event_id FROM stage WHERE _reason IS NULL)""",
        )
        fresh_rows = "_reason IS NULL AND event_id NOT IN (SELECT event_id FROM again)"
        if not self._scalar("SELECT count(*) FROM again"):
            self._count(self._insert_exchanges(fresh_rows), 0, 0)
            return
        hash_sql = row_hash(self.table, {c: f'"{c}"' for c in self.table.names})
        self._keep(
            "judged",
            f"""            SELECT s.*, e._stored_hash,
                   row_number() OVER w AS _nth, first_value(s._row_hash) OVER w AS _first_hash
            FROM (SELECT * REPLACE ({hash_sql} AS _row_hash) FROM stage WHERE _reason IS NULL
                  AND event_id IN (SELECT event_id FROM again)) s
            LEFT JOIN (SELECT event_id, arg_min({hash_sql}, _ingest_id) AS _stored_hash
                       FROM {stored} WHERE event_id IN (SELECT event_id FROM again)
                       GROUP BY event_id) e
              ON e.event_id = s.event_id
            WINDOW w AS (PARTITION BY s.event_id ORDER BY s._line, s._row)""",
        )
        first_seen = "SELECT _row FROM judged WHERE _stored_hash IS NULL AND _nth = 1"
        accepted = self._insert_exchanges(f"({fresh_rows}) OR _row IN ({first_seen})")
        conflict_stored = "_stored_hash IS NOT NULL AND _stored_hash <> _row_hash"
        conflict_batch = "_stored_hash IS NULL AND _nth > 1 AND _row_hash <> _first_hash"
        dup, conflicts = self._sql(
            f"""SELECT count(*) FILTER ((_stored_hash IS NOT NULL AND _stored_hash = _row_hash)
                                     OR (_stored_hash IS NULL AND _nth > 1
                                         AND _row_hash = _first_hash)),
                       count(*) FILTER (({conflict_stored}) OR ({conflict_batch}))
                FROM judged"""
        )[0]
        if conflicts:
            self._quarantine_conflicts(f"({conflict_stored})", "_stored_hash")
            self._quarantine_conflicts(f"({conflict_batch})", "_first_hash")
        self._count(accepted, dup, conflicts)

    def _stored_exchanges(self) -> str:
        """SQL of the stored exchanges a batch's ids are looked up in, so that the lookup
        costs what the batch's time span holds, not what the store holds: this file's own rows
        (the table's tail: zone maps on ``_ingest_id`` skip the rest), and earlier rows whose
        ``ts`` lies within ``conflict_window`` seconds of the batch's (zone maps on ``ts``).

        A duplicate has the same ``ts``, so it is always found. Known miss: an id stored
        earlier with other content and a ``ts`` further than the window from every row of the
        batch is not seen as a conflict; the new row is stored beside it.
        """
        lo, hi = self._sql(
            f"""SELECT CAST(min(ts) - to_seconds({self.conflict_window}) AS VARCHAR),
                       CAST(max(ts) + to_seconds({self.conflict_window}) AS VARCHAR)
                FROM stage WHERE _reason IS NULL"""
        )[0]
        mine = f"SELECT * FROM exchanges WHERE _ingest_id = {self.ingest_id}"
        if lo is None:
            return f"({mine})"
        return (
            f"({mine} UNION ALL SELECT * FROM exchanges WHERE _ingest_id <> {self.ingest_id} "
            f"AND ts BETWEEN TIMESTAMP '{lo}' AND TIMESTAMP '{hi}')"
        )

    def _insert_exchanges(self, where: str) -> int:
        """Insert the batch's rows that ``where`` picks; returns how many."""
        return int(
            self._scalar(
                f"""INSERT INTO exchanges SELECT {self._columns()}, {self.ingest_id}, _truncated
                    FROM stage WHERE {where}"""
            )
        )

    def _write_snapshot(self) -> None:
        """Accounts: a new version replaces the stored row; the old one goes to history."""
        self._keep(
            "judged",
            """            SELECT s.*, e._row_hash AS _stored_hash,
                   coalesce(lag(s._row_hash) OVER w, e._row_hash) AS _previous_hash,
                   row_number() OVER (PARTITION BY s.account_id ORDER BY s._line DESC) AS _from_end
            FROM (SELECT * FROM stage WHERE _reason IS NULL) s
            LEFT JOIN (SELECT account_id, _row_hash FROM accounts) e
              ON e.account_id = s.account_id
            WINDOW w AS (PARTITION BY s.account_id ORDER BY s._line)""",
        )
        self._keep(
            "changes",
            """            SELECT *, row_number() OVER (PARTITION BY account_id ORDER BY _line DESC) AS _rank
            FROM judged WHERE _previous_hash IS NULL OR _previous_hash <> _row_hash""",
        )
        cols = self._columns()
        now = datetime.now(UTC).replace(tzinfo=None)
        self._sql(
            f"""INSERT INTO accounts_history
                SELECT {cols}, _ingest_id, _row_hash, ?, {self.ingest_id} FROM accounts
                WHERE account_id IN (SELECT account_id FROM changes)""",
            [now],
        )
        self._sql(
            f"""INSERT INTO accounts_history
                SELECT {cols}, {self.ingest_id}, _row_hash, ?, {self.ingest_id} FROM changes
                WHERE _rank > 1 ORDER BY _line""",
            [now],
        )
        replaced = self._scalar(
            "SELECT count(*) FROM changes WHERE _stored_hash IS NOT NULL AND _rank = 1"
        )
        self._sql("DELETE FROM accounts WHERE account_id IN (SELECT account_id FROM changes)")
        self._sql(
            f"""INSERT INTO accounts SELECT {cols}, {self.ingest_id}, _row_hash FROM changes
                WHERE _rank = 1 ORDER BY _line"""
        )
        changed, total = self._sql(
            "SELECT (SELECT count(*) FROM changes), (SELECT count(*) FROM judged)"
        )[0]
        self.report.replaced += int(replaced)
        self._count(changed, total - changed, 0)

    def _write_events(self) -> None:
        """Enforcements: no id; the same row again is a duplicate."""
        self._keep(
            "judged",
            """            SELECT s.*, row_number() OVER (PARTITION BY s._row_hash ORDER BY s._line) AS _nth,
                   e._row_hash IS NOT NULL AS _stored
            FROM (SELECT * FROM stage WHERE _reason IS NULL) s
            LEFT JOIN (SELECT DISTINCT _row_hash FROM enforcements) e ON e._row_hash = s._row_hash""",
        )
        self._sql(
            f"""INSERT INTO enforcements SELECT {self._columns()}, {self.ingest_id}, _row_hash
                FROM judged WHERE NOT _stored AND _nth = 1 ORDER BY _line"""
        )
        new, total = self._sql(
            "SELECT count(*) FILTER (NOT _stored AND _nth = 1), count(*) FROM judged"
        )[0]
        self._count(new, total - new, 0)

    def _count(self, accepted: int, duplicates: int, conflicts: int) -> None:
        self.report.accepted += int(accepted)
        self.report.duplicates += int(duplicates)
        self.report.conflicts += int(conflicts)

    def finish(self) -> None:
        self.report.unknown_columns = sorted(self.validator.unknown)

    def close(self) -> None:
        self.validator.close()
