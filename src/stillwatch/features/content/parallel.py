"""Both DuckDB threads for the content stages: Arrow chunks DuckDB scans in parallel.

DuckDB hands a table scan's work to its threads a row group (122,880 rows) at a time, so a
sample of a few hundred thousand prompts runs its regular expressions on one core whatever
``threads`` says. An Arrow table is scanned a record batch at a time: :func:`arrow_chunks`
reads a bounded slice of a table into Arrow in chunks of ``CHUNK_ROWS`` rows, and a query over
it (registered on the connection) uses every DuckDB thread. Memory stays bounded by the
callers' batches (never the whole sample), and row order is kept, so results do not change.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

# Rows per Arrow record batch: DuckDB gives each of its threads one batch at a time. Small
# batches balance the threads' work (frame keys of 139,230 prompts: 0.59 s at 16,384 rows,
# 0.47-0.51 s at 4,096).
CHUNK_ROWS = 4_096


def arrow_chunks(con: Any, query: str, chunk_rows: int | None = None) -> pa.Table:
    """The result of ``query`` as an Arrow table in record batches of ``chunk_rows`` rows
    (default ``CHUNK_ROWS``; the caller bounds the result's size), for DuckDB to scan with all
    its threads."""
    table = con.sql(query).to_arrow_table()
    rows = int(chunk_rows or CHUNK_ROWS)
    return pa.Table.from_batches(table.to_batches(max_chunksize=rows), table.schema)
