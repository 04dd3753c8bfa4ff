"""Parquet output with the canonical column names, order and types of ``stillwatch.schema``.

Exchanges stream out batch by batch; past ``part_rows`` rows they go to a folder of parts
(``exchanges/part-00000.parquet``…), as the schema README allows for large tables.
"""

from __future__ import annotations

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


def arrow_schema(table: Table) -> pa.Schema:
    return pa.schema([pa.field(c.name, ARROW_TYPES[c.kind], nullable=not c.required) for c in table.columns])


def write_table(path: Path, table: Table, columns: dict[str, Any]) -> int:
    """Write a whole (small) table at once; returns the rows written."""
    data = pa.table(columns, schema=arrow_schema(table))
    pq.write_table(data, path, compression="zstd")
    return data.num_rows


class StreamWriter:
    """Writes one table as a file, or as a folder of parts once it grows past ``part_rows``."""

    def __init__(self, folder: Path, table: Table, parts: bool, part_rows: int = 4_000_000) -> None:
        self.folder = folder
        self.schema = arrow_schema(table)
        self.name = table.name
        self.parts = parts
        self.part_rows = part_rows
        self.rows = 0
        self._part = 0
        self._in_part = 0
        self._writer: pq.ParquetWriter | None = None

    def _open(self) -> pq.ParquetWriter:
        if self.parts:
            (self.folder / self.name).mkdir(parents=True, exist_ok=True)
            path = self.folder / self.name / f"part-{self._part:05d}.parquet"
        else:
            path = self.folder / f"{self.name}.parquet"
        return pq.ParquetWriter(path, self.schema, compression="zstd")

    def write(self, batch: pa.Table) -> None:
        if self._writer is None:
            self._writer = self._open()
        self._writer.write_table(batch.cast(self.schema), row_group_size=256_000)
        self.rows += batch.num_rows
        self._in_part += batch.num_rows
        if self.parts and self._in_part >= self.part_rows:
            self._writer.close()
            self._writer = None
            self._part += 1
            self._in_part = 0

    def close(self) -> None:
        if self._writer is None and self.rows == 0:
            self._writer = self._open()  # an empty table is still a valid file
        if self._writer is not None:
            self._writer.close()
            self._writer = None
