"""A data set folder's exchanges rewritten in a log dialect (``stillwatch simulate
--write-as``): the canonical ``exchanges`` file(s) are replaced by ``exchanges.jsonl`` in the
dialect (``exchanges.csv`` for LiteLLM, as its spend-log exports are), written by that
dialect's writer over the exchanges in the order stored (the simulator writes them in time
order). Accounts, enforcements, ground truth and the manifest stay canonical; the manifest
says ``written_as``. ``stillwatch ingest FOLDER`` then reads the exchanges with the dialect's
adapter (``--source auto`` tells it), keeping the columns ``docs/formats.md`` lists for it.

Memory: rows are read in batches; the writers keep the text of the last
``max_conversations`` conversations (the transcript a request carries).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from stillwatch.errors import UsageError
from stillwatch.ingest.dialects import WRITERS
from stillwatch.ingest.dialects.litellm_write import COLUMNS, csv_row
from stillwatch.ingest.dialects.write import Writer

_READ_ROWS = 20_000
MAX_CONVERSATIONS = 50_000


def exchanges_files(folder: Path) -> list[Path]:
    """The canonical exchanges of a data set: ``exchanges.parquet`` / ``.jsonl`` or a folder
    ``exchanges/`` of Parquet parts (in name order)."""
    found = [p for p in (folder / "exchanges.parquet", folder / "exchanges.jsonl") if p.is_file()]
    parts = folder / "exchanges"
    if parts.is_dir():
        found += sorted(parts.glob("*.parquet"))
    return found


def _rows(files: list[Path]) -> Iterator[dict[str, Any]]:
    for path in files:
        if path.suffix == ".parquet":
            for batch in pq.ParquetFile(path).iter_batches(batch_size=_READ_ROWS):
                yield from batch.to_pylist()
        else:
            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    if line.strip():
                        yield json.loads(line)


def write_records(rows: Iterable[dict[str, Any]], dialect: str, out: Path) -> int:
    """Canonical exchanges rows (in time order) written to ``out`` by ``dialect``'s writer:
    JSON Lines, or CSV for LiteLLM; returns how many records were written."""
    writer: Writer = WRITERS[dialect]()
    writer.history.max_conversations = MAX_CONVERSATIONS
    records = 0
    with open(out, "w", encoding="utf-8", newline="") as fh:
        if dialect == "litellm":
            table = csv.DictWriter(fh, fieldnames=list(COLUMNS))
            table.writeheader()
            for record in writer.records(rows):
                table.writerow(csv_row(record))
                records += 1
        else:
            for record in writer.records(rows):
                fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
                records += 1
    return records


def read_rows(files: list[Path]) -> Iterator[dict[str, Any]]:
    """Canonical rows of Parquet or JSON Lines files, in file order, in batches."""
    return _rows(files)


def write_as(folder: Path, dialect: str) -> dict[str, Any]:
    """Rewrite ``folder``'s exchanges in ``dialect``; returns what was written."""
    if dialect not in WRITERS:
        raise UsageError(f"--write-as must be one of {', '.join(WRITERS)}, got {dialect!r}")
    files = exchanges_files(folder)
    if not files:
        raise UsageError(f"{folder}: no canonical exchanges to rewrite")
    out = folder / ("exchanges.csv.tmp" if dialect == "litellm" else "exchanges.jsonl.tmp")
    rows = 0

    def counted() -> Iterator[dict[str, Any]]:
        nonlocal rows
        for row in _rows(files):
            rows += 1
            yield row

    records = write_records(counted(), dialect, out)
    for path in files:
        path.unlink()
    parts = folder / "exchanges"
    if parts.is_dir() and not any(parts.iterdir()):
        parts.rmdir()
    final = out.with_suffix("")  # exchanges.jsonl / exchanges.csv
    out.replace(final)
    manifest = folder / "manifest.json"
    if manifest.is_file():
        data = json.loads(manifest.read_text(encoding="utf-8"))
        data["written_as"] = dialect
        manifest.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return {"dialect": dialect, "file": str(final), "exchanges": rows, "records": records}
