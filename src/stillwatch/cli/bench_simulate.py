"""``stillwatch bench simulate``: exchanges per second and peak memory of the simulator."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from stillwatch.cli.app import bench_app
from stillwatch.cli.common import FormatOption
from stillwatch.cli.output import Format, console, emit_json, rows_table
from stillwatch.errors import StillwatchError, UsageError

TARGET_RATE = 200_000
TARGET_PEAK_GB = 4.0
_CHILD = """
import json, sys, time
from stillwatch.sim import simulate
args = json.loads(sys.argv[1])
t = time.perf_counter()
summary = simulate(**args)
seconds = time.perf_counter() - t
peak = next(int(l.split()[1]) * 1024 for l in open('/proc/self/status') if l.startswith('VmHWM'))
print(json.dumps({"seconds": seconds, "peak_bytes": peak, "summary": summary}))
"""


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def run_bench(scenario: str, scale: str, seed: int, out: Path) -> dict[str, Any]:
    """Simulate in a fresh interpreter so the peak memory measured is the simulator's own."""
    args = {"scenario": scenario, "scale": scale, "seed": seed, "out": str(out)}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(args)], capture_output=True, text=True
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise StillwatchError(f"the simulator failed: {last}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    ex = result["summary"]["exchanges"]
    result.update(
        scenario=scenario,
        scale=scale,
        exchanges_per_second=ex / result["seconds"],
        disk_bytes=_folder_bytes(out),
        target_exchanges_per_second=TARGET_RATE,
        target_peak_bytes=int(TARGET_PEAK_GB * 2**30),
    )
    return result


@bench_app.command("simulate")
def bench_simulate_command(
    scale: Annotated[str, typer.Option(help="small, medium or large")] = "large",
    scenario: Annotated[str, typer.Option(help="scenario to simulate")] = "low-and-slow",
    seed: Annotated[int, typer.Option(help="seed")] = 1,
    out: Annotated[
        Path | None, typer.Option(help="where the data set goes (default: a temp dir)")
    ] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Simulate SCALE once and print exchanges per second, peak memory and size on disk."""
    if scale not in ("small", "medium", "large"):
        raise UsageError(f"--scale takes small, medium or large, got {scale!r}")
    with tempfile.TemporaryDirectory(prefix="stillwatch-bench-sim-") as tmp:
        result = run_bench(scenario, scale, seed, out or Path(tmp) / "dataset")
    if fmt == Format.json:
        emit_json(result)
        return
    s = result["summary"]
    row = {
        "scenario": scenario,
        "scale": scale,
        "exchanges": f"{s['exchanges']:,}",
        "accounts": f"{s['accounts']:,}",
        "seconds": f"{result['seconds']:.1f}",
        "exchanges/s": f"{result['exchanges_per_second']:,.0f}",
        "peak GB": f"{result['peak_bytes'] / 2**30:.2f}",
        "disk GB": f"{result['disk_bytes'] / 2**30:.2f}",
    }
    console.print(rows_table("bench simulate", [row]))
    rate_ok = result["exchanges_per_second"] >= TARGET_RATE
    mem_ok = result["peak_bytes"] <= TARGET_PEAK_GB * 2**30
    console.print(
        f"rate {'meets' if rate_ok else 'MISSES'} the {TARGET_RATE:,}/s target; "
        f"peak memory {'within' if mem_ok else 'OVER'} {TARGET_PEAK_GB:.0f} GB"
    )
