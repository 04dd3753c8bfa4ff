"""The ingest benchmark measures both loads of the same file, and they agree on the rows."""

from __future__ import annotations

from pathlib import Path

from stillwatch.bench.ingest import run_bench


def test_bench_ingest_compares_like_with_like(tmp_path: Path) -> None:
    result = run_bench(3000, tmp_path, 1000, "1GB", ["parquet", "jsonl"], prefilled_rows=20_000)
    for fmt in ("parquet", "jsonl"):
        r = result["formats"][fmt]
        ours, copy = r["stillwatch"], r["duckdb_copy"]
        # the copy takes every row; stillwatch accounts for each one of them
        assert ours["rows_read"] == copy["stored"]
        assert ours["accepted"] + ours["duplicates"] + ours["quarantined"] == copy["stored"]
        assert ours["quarantined"] == 3  # every 1000th exchange has a bad address
        assert ours["stored"] == ours["accepted"]
        assert ours["peak_bytes"] > 0 and r["time_ratio"] > 0
        # into a store that already held rows: the same rows land, none taken for a duplicate
        full = r["stillwatch_prefilled"]
        assert full["store_rows_before"] == 20_000
        assert (full["accepted"], full["duplicates"]) == (ours["accepted"], ours["duplicates"])
        assert full["stored"] == ours["stored"] and r["prefilled_slowdown"] > 0
