"""Parquet output with the canonical column names, order and types of ``stillwatch.schema``.

Exchanges stream out batch by batch; past ``part_rows`` rows they go to a folder of parts
(``exchanges/part-00000.parquet``…), as the schema README allows for large tables.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from stillwatch.schema import Table

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "ip": pa.string(),
    "timestamp": pa.timestamp("ms", tz="UTC"),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
}


_UNIQUE = {
    "event_id",
    "conversation_id",
    "prompt_sha256",
    "prompt",
    "response",
    "ts",
    "latency_ms",
    "input_tokens",
    "output_tokens",
    "reasoning_tokens",
}


def arrow_schema(table: Table) -> pa.Schema:
    return pa.schema(
        [pa.field(c.name, ARROW_TYPES[c.kind], nullable=not c.required) for c in table.columns]
    )


def write_table(path: Path, table: Table, columns: dict[str, Any]) -> int:
    """Write a whole (small) table at once; returns the rows written."""
    data = pa.table(columns, schema=arrow_schema(table))
    pq.write_table(data, path, compression="zstd")
    return data.num_rows


class StreamWriter:
    """Writes one table as a file, or as a folder of parts once it grows past ``part_rows``.

    Encoding and compression run on a background thread (pyarrow releases the GIL), so the
    next day's traffic is generated while this one is written; at most one batch
    waits, which bounds memory.
    """

    def __init__(
        self,
        folder: Path,
        table: Table,
        parts: bool,
        part_rows: int = 4_000_000,
        compression: str = "zstd",
    ) -> None:
        self.compression = compression
        self.folder = folder
        self.schema = arrow_schema(table)
        self.name = table.name
        self.parts = parts
        self.part_rows = part_rows
        self.rows = 0
        self._part = 0
        self._in_part = 0
        self._writer: pq.ParquetWriter | None = None
        self._queue: queue.Queue[pa.Table | None] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            try:
                self._write_now(batch)
            except BaseException as exc:  # surfaced on the caller's thread at close()
                self._error = exc

    def _open(self) -> pq.ParquetWriter:
        if self.parts:
            (self.folder / self.name).mkdir(parents=True, exist_ok=True)
            path = self.folder / self.name / f"part-{self._part:05d}.parquet"
        else:
            path = self.folder / f"{self.name}.parquet"
        # random ids and hashes do not compress or dictionary-encode: skip trying on them
        dictionary = [n for n in self.schema.names if n not in _UNIQUE]
        return pq.ParquetWriter(
            path,
            self.schema,
            compression=self.compression,
            use_dictionary=dictionary,
            write_statistics=["ts"],
        )

    def write(self, batch: pa.Table) -> None:
        if self._error is not None:
            raise self._error
        self.rows += batch.num_rows
        self._queue.put(batch)

    def _write_now(self, batch: pa.Table) -> None:
        if self._writer is None:
            self._writer = self._open()
        self._writer.write_table(batch.cast(self.schema), row_group_size=256_000)
        self._in_part += batch.num_rows
        if self.parts and self._in_part >= self.part_rows:
            self._writer.close()
            self._writer = None
            self._part += 1
            self._in_part = 0

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        if self._writer is None and self.rows == 0:
            self._writer = self._open()  # an empty table is still a valid file
        if self._writer is not None:
            self._writer.close()
            self._writer = None
