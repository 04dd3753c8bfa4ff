"""``stillwatch bench ingest``: rows per second and peak memory, against DuckDB's bare copy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stillwatch.bench.ingest import run_bench, run_dialect_bench
from stillwatch.cli.app import bench_app
from stillwatch.cli.common import FormatOption, settings
from stillwatch.cli.output import Format, console, emit_json, rows_table
from stillwatch.errors import UsageError
from stillwatch.ingest.dialects import DIALECTS

TARGETS = {"parquet": 2.0, "jsonl": 3.0}
PREFILLED_TARGET = 1.2


@bench_app.command("ingest")
def bench_ingest_command(
    rows: Annotated[int, typer.Option(help="exchanges in the sample file")] = 5_000_000,
    workdir: Annotated[Path, typer.Option(help="where the sample and stores go")] = Path(
        "bench-data/ingest"
    ),
    batch_rows: Annotated[int | None, typer.Option(help="rows per ingest batch [setting]")] = None,
    formats: Annotated[str, typer.Option(help="comma-separated: parquet,jsonl")] = "parquet,jsonl",
    prefilled_rows: Annotated[
        int,
        typer.Option(
            help="also ingest into a store already holding this many exchanges (made once in "
            "the work folder, minutes at 50M); 0 skips that run"
        ),
    ] = 0,
    dialects: Annotated[
        str,
        typer.Option(
            help="instead: each log dialect's adapter beside the canonical JSON Lines reader, "
            "on the same rows written in each (all, or comma-separated: " + ",".join(DIALECTS) + ")"
        ),
    ] = "",
    dialect_rows: Annotated[
        int, typer.Option(help="exchanges in the dialect samples (writing them takes a while)")
    ] = 200_000,
    fmt: FormatOption = Format.table,
) -> None:
    """Ingest a synthetic file of ROWS exchanges, beside DuckDB copying the same file; or,
    with --dialects, each dialect adapter beside the canonical reader."""
    if dialects:
        _dialects(dialects, dialect_rows, workdir, batch_rows, fmt)
        return
    chosen = [f.strip() for f in formats.split(",") if f.strip()]
    bad = [f for f in chosen if f not in TARGETS]
    if bad or not chosen:
        raise UsageError(f"--formats takes parquet and/or jsonl, got {formats!r}")
    if rows <= 0:
        raise UsageError(f"--rows must be positive, got {rows}")
    if prefilled_rows < 0:
        raise UsageError(f"--prefilled-rows must be 0 or more, got {prefilled_rows}")
    resolved = settings(batch_rows=batch_rows)
    result = run_bench(
        rows, workdir, resolved.batch_rows, resolved.memory_limit, chosen, prefilled_rows
    )
    if fmt == Format.json:
        emit_json(result)
        return
    table = []
    for name, r in result["formats"].items():
        for method in ("stillwatch", "stillwatch_prefilled", "duckdb_copy"):
            if method not in r:
                continue
            m = r[method]
            label = method
            if method == "stillwatch_prefilled":
                label = f"stillwatch into {m['store_rows_before']:,} rows"
            table.append(
                {
                    "format": name,
                    "method": label,
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
        if "prefilled_slowdown" in r:
            before = r["stillwatch_prefilled"]["store_rows_before"]
            verdict = "within" if r["prefilled_slowdown"] <= PREFILLED_TARGET else "OVER"
            console.print(
                f"{name}: into a store of {before:,} rows / into an empty store = "
                f"{r['prefilled_slowdown']:.2f}x time ({verdict} the {PREFILLED_TARGET}x target)"
            )


def _dialects(names: str, rows: int, workdir: Path, batch_rows: int | None, fmt: Format) -> None:
    chosen = list(DIALECTS) if names == "all" else [n.strip() for n in names.split(",") if n]
    bad = [n for n in chosen if n not in DIALECTS]
    if bad or not chosen:
        raise UsageError(f"--dialects takes all or some of {', '.join(DIALECTS)}, got {names!r}")
    if rows <= 0:
        raise UsageError(f"--dialect-rows must be positive, got {rows}")
    resolved = settings(batch_rows=batch_rows)
    result = run_dialect_bench(rows, workdir, resolved.batch_rows, resolved.memory_limit, chosen)
    if fmt == Format.json:
        emit_json(result)
        return
    table = [
        {
            "source": name,
            "file MB": f"{m['file_bytes'] / 2**20:,.0f}",
            "rows": m["accepted"],
            "seconds": f"{m['seconds']:.1f}",
            "rows/s": f"{m['rows_read'] / m['seconds']:,.0f}",
            "time / canonical": f"{m['time_ratio']:.2f}x",
            "peak MB": f"{m['peak_bytes'] / 2**20:,.0f}",
        }
        for name, m in result["sources"].items()
    ]
    console.print(rows_table(f"bench ingest --dialects: {rows:,} exchanges", table))
