"""``stillwatch bench serve``: requests/s and latency of the risk endpoint beside bare health."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stillwatch.bench.serve import run_bench
from stillwatch.cli.app import bench_app
from stillwatch.cli.common import FormatOption
from stillwatch.cli.output import Format, console, emit_json, rows_table
from stillwatch.errors import UsageError

TARGET_RPS = 1000
TARGET_P99_MS = 20.0


@bench_app.command("serve")
def bench_serve_command(
    accounts: Annotated[int, typer.Option(help="accounts in the synthetic store")] = 10_000,
    seconds: Annotated[float, typer.Option(help="load time per route")] = 10.0,
    connections: Annotated[int, typer.Option(help="concurrent keep-alive connections")] = 16,
    workdir: Annotated[Path | None, typer.Option(help="where the temporary store goes")] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Load a real `stillwatch serve` on loopback: GET /api/v1/accounts/{id}/risk (token auth,
    casebook and score lookups) beside GET /api/v1/health, in the same run."""
    if accounts <= 0 or seconds <= 0 or not 1 <= connections <= 512:
        raise UsageError("--accounts and --seconds must be positive, --connections 1 to 512")
    result = run_bench(accounts, seconds, connections, workdir)
    if fmt == Format.json:
        emit_json(result)
        return
    rows = [
        {
            "route": name,
            "requests": r["requests"],
            "requests/s": f"{r['requests_per_s']:,.0f}",
            "p50 ms": f"{r['p50_ms']:.2f}",
            "p99 ms": f"{r['p99_ms']:.2f}",
            "p99.9 ms": f"{r['p999_ms']:.2f}",
            "max ms": f"{r['max_ms']:.1f}",
            "statuses": ", ".join(f"{k}: {v}" for k, v in r["statuses"].items()),
        }
        for name, r in result["routes"].items()
    ]
    console.print(
        rows_table(
            f"bench serve: {accounts:,} accounts, {connections} connections, {seconds:g} s per "
            f"route; client {result['client']}",
            rows,
        )
    )
    risk = result["routes"]["risk"]
    ok = risk["requests_per_s"] >= TARGET_RPS and risk["p99_ms"] < TARGET_P99_MS
    console.print(
        f"risk: {risk['requests_per_s']:,.0f} requests/s, p99 {risk['p99_ms']:.2f} ms "
        f"({'meets' if ok else 'MISSES'} the target of {TARGET_RPS:,}/s with p99 under "
        f"{TARGET_P99_MS:g} ms); {result['risk_over_health']:.2f}x the bare health route"
    )
