"""A log file in one of the dialects, read as batches of canonical rows: each record goes
through the dialect's adapter, and the rows it maps to are handed to the canonical validation
as JSON Lines text (so every canonical check applies to them: required fields, types, IP
syntax, time zones, text limits, duplicates and conflicts by ``event_id``).

What the adapter cannot map is rejected with the record's line, the part of the record
(``part``, e.g. one span of an OTLP export), the reason and the record's raw text; parts that
are not model calls are counted as skipped; fields no canonical column holds are counted per
record (``stillwatch.ingest.dialects.mapping.MappingReport``). Accounts rows the records name
(LiteLLM teams) are kept once per account, for :mod:`stillwatch.ingest.run` to add.

Memory: one record at a time, and a batch of at most ``batch_rows`` rows or ``BATCH_BYTES`` of
row text (built in Arrow chunks, so Python holds a small list at a time).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from stillwatch.ingest.dialects import Dialect
from stillwatch.ingest.dialects.mapping import MappingReport, map_records
from stillwatch.ingest.readers import Batch, Rejected
from stillwatch.ingest.records import RecordReader, raw_text
from stillwatch.ingest.sources import SourceFile
from stillwatch.schema import TEXT_COLUMNS

BATCH_BYTES = 256 * 1024 * 1024  # row text per batch
_CHUNK_ROWS = 20_000  # rows per Arrow chunk
_OVER = 4  # text is cut to just over the limit: the validation then cuts and flags it
# Reasons of a record that is no JSON object at all (the adapters' own words).
NOT_JSON = ("record is not valid JSON", "record is not a JSON object", "record is not UTF-8")
NO_MODEL_CALL = "record holds no model call"


class MappedReader:
    """Batches of one dialect file's mapped rows (``_line``, ``_text``), with the rejected
    records and parts; ``report`` counts records, rows, skips and unmapped fields."""

    def __init__(
        self,
        source: SourceFile,
        dialect: Dialect,
        batch_rows: int,
        max_text_bytes: int,
        max_record_bytes: int,
    ) -> None:
        self.source, self.dialect = source, dialect
        self.batch_rows, self.max_text_bytes = batch_rows, max_text_bytes
        self.records = RecordReader(source, max_record_bytes)
        self.columns = self.records.columns
        self.report = MappingReport()
        # records by outcome: with rows, only quarantined parts, only skipped parts
        self.outcomes = {"mapped": 0, "quarantined": 0, "skipped": 0}
        self.objects = 0  # records that were JSON objects (or CSV rows)
        self.accounts: dict[str, tuple[int, dict[str, Any]]] = {}  # first line, latest row

    def batches(self) -> Iterator[Batch]:
        lines: list[int] = []
        texts: list[str] = []
        chunks: list[pa.Table] = []
        rows = size = 0
        rejected: list[Rejected] = []

        def flush_chunk() -> None:
            if texts:
                chunks.append(
                    pa.table({"_line": pa.array(lines, pa.int64()), "_text": pa.array(texts)})
                )
                lines.clear()
                texts.clear()

        for item in self.records.records():
            if isinstance(item, Rejected):  # not readable as a record: one quarantined part
                rejected.append(item)
                self.report.records += 1
                self.report.quarantined += 1
                self.outcomes["quarantined"] += 1
                continue
            line, record = item
            mapped = next(map_records(self.dialect, [item], self.report))[1]
            if mapped.exchanges:
                self.outcomes["mapped"] += 1
            elif mapped.quarantined:
                self.outcomes["quarantined"] += 1
            else:
                self.outcomes["skipped"] += 1
                if not mapped.skipped:  # nothing at all: counted, so the parts add up
                    self.report.skipped[NO_MODEL_CALL] += 1
            if not any(q.reason.startswith(NOT_JSON) for q in mapped.quarantined):
                self.objects += 1
            for row in mapped.exchanges:
                text = json.dumps(self._shortened(row), ensure_ascii=False)
                lines.append(line)
                texts.append(text)
                rows += 1
                size += len(text)
            for q in mapped.quarantined:
                rejected.append(Rejected(line, q.reason, raw_text(record, q.part), q.part))
            for account in mapped.accounts:
                first = self.accounts.get(account["account_id"], (line, account))[0]
                self.accounts[account["account_id"]] = (first, account)
            if len(texts) >= _CHUNK_ROWS:
                flush_chunk()
            if rows >= self.batch_rows or size >= BATCH_BYTES:
                flush_chunk()
                yield Batch(pa.concat_tables(chunks), rejected=rejected, progress=self.records.done)
                chunks, rejected = [], []
                rows = size = 0
        flush_chunk()
        if chunks or rejected:
            table = pa.concat_tables(chunks) if chunks else None
            yield Batch(table, rejected=rejected, progress=self.records.done)

    def _shortened(self, row: dict[str, Any]) -> dict[str, Any]:
        """Text far over the limit is cut here, so no row's text is larger than a few times
        the limit; the validation then truncates it to the limit and flags it."""
        limit = self.max_text_bytes
        for column in TEXT_COLUMNS:
            value = row.get(column)
            if isinstance(value, str) and len(value) > limit // 4:
                data = value.encode("utf-8")
                if len(data) > limit:
                    row[column] = data[: limit + _OVER].decode("utf-8", "ignore")
        return row
