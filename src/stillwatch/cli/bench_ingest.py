"""``stillwatch bench ingest``: rows per second and peak memory, against DuckDB's bare copy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stillwatch.bench.ingest import run_bench
from stillwatch.cli.app import bench_app
from stillwatch.cli.common import FormatOption, settings
from stillwatch.cli.output import Format, console, emit_json, rows_table
from stillwatch.errors import UsageError

TARGETS = {"parquet": 2.0, "jsonl": 3.0}


@bench_app.command("ingest")
def bench_ingest_command(
    rows: Annotated[int, typer.Option(help="exchanges in the sample file")] = 5_000_000,
    workdir: Annotated[Path, typer.Option(help="where the sample and stores go")] = Path(
        "bench-data/ingest"
    ),
    batch_rows: Annotated[int | None, typer.Option(help="rows per ingest batch [setting]")] = None,
    formats: Annotated[str, typer.Option(help="comma-separated: parquet,jsonl")] = "parquet,jsonl",
    fmt: FormatOption = Format.table,
) -> None:
    """Ingest a synthetic file of ROWS exchanges, beside DuckDB copying the same file."""
    chosen = [f.strip() for f in formats.split(",") if f.strip()]
    bad = [f for f in chosen if f not in TARGETS]
    if bad or not chosen:
        raise UsageError(f"--formats takes parquet and/or jsonl, got {formats!r}")
    if rows <= 0:
        raise UsageError(f"--rows must be positive, got {rows}")
    resolved = settings(batch_rows=batch_rows)
    result = run_bench(rows, workdir, resolved.batch_rows, resolved.memory_limit, chosen)
    if fmt == Format.json:
        emit_json(result)
        return
    table = []
    for name, r in result["formats"].items():
        for method in ("stillwatch", "duckdb_copy"):
            m = r[method]
            table.append(
                {
                    "format": name,
                    "method": method,
                    "rows": m.get("rows_read", m["stored"]),
                    "seconds": f"{m['seconds']:.1f}",
                    "rows/s": f"{m.get('rows_read', m['stored']) / m['seconds']:,.0f}",
                    "peak MB": f"{m['peak_bytes'] / 2**20:,.0f}",
                }
            )
    console.print(rows_table(f"bench ingest: {rows:,} exchanges", table))
    for name, r in result["formats"].items():
        verdict = "within" if r["time_ratio"] <= TARGETS[name] else "OVER"
        console.print(
            f"{name}: stillwatch / duckdb copy = {r['time_ratio']:.2f}x time "
            f"({verdict} the {TARGETS[name]:.0f}x target), {r['memory_ratio']:.2f}x peak memory"
        )
