"""``stillwatch bench perf``: wall time, peak memory and rows/s of the scan's stages beside
DuckDB's bare pass over the same columns, in the same run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from stillwatch.bench.perf import run_perf
from stillwatch.bench.quality import SCALES, SCENARIOS, ensure_dataset
from stillwatch.cli.app import bench_app
from stillwatch.cli.common import FormatOption, settings
from stillwatch.cli.output import Format, console, emit_json, rows_table
from stillwatch.errors import UsageError


@bench_app.command("perf")
def bench_perf_command(
    scale: Annotated[str, typer.Option(help=f"one of {', '.join(SCALES)}")] = "small",
    scenario: Annotated[str, typer.Option(help="simulator scenario")] = "low-and-slow",
    seed: Annotated[int, typer.Option(help="simulator seed")] = 1,
    data_dir: Annotated[Path, typer.Option(help="where simulated data sets are kept")] = Path(
        "bench-data/quality"
    ),
    workdir: Annotated[Path, typer.Option(help="where the store goes")] = Path("bench-data/perf"),
    fmt: FormatOption = Format.table,
) -> None:
    """Ingest a simulated data set, scan it, and time a bare DuckDB pass over the same store.

    Peak MB is each step's resident high-water mark (its process's, interpreter included);
    a scan stage's is the mark while that stage ran."""
    if scale not in SCALES:
        raise UsageError(f"--scale: choose from {', '.join(SCALES)}; got {scale!r}")
    if scenario not in SCENARIOS:
        raise UsageError(f"--scenario: choose from {', '.join(SCENARIOS)}; got {scenario!r}")
    folder = ensure_dataset(data_dir, scenario, scale, seed)
    result = run_perf(folder, workdir, settings().memory_limit)
    if fmt == Format.json:
        emit_json(result)
        return
    rows = result["rows"]
    table = [
        {"stage": "ingest (apart)", "seconds": f"{result['ingest']['seconds']:.1f}",
         "rows/s": f"{rows / result['ingest']['seconds']:,.0f}", "x bare pass": "",
         "peak MB": f"{result['ingest']['peak_mb']:,.0f}"},
        {"stage": "DuckDB bare pass", "seconds": f"{result['bare_pass']['seconds']:.2f}",
         "rows/s": f"{result['rows_per_second']['bare_pass']:,.0f}", "x bare pass": "1.0",
         "peak MB": f"{result['bare_pass']['peak_mb']:,.0f}"},
    ]  # fmt: skip
    marks = result["scan"]["stage_peak_mb"]
    for stage, seconds in result["scan"]["stages"].items():
        table.append(
            {"stage": f"scan: {stage}", "seconds": f"{seconds:.2f}",
             "rows/s": f"{result['rows_per_second'].get(stage, 0):,.0f}",
             "x bare pass": f"{result['ratio_to_bare_pass'][stage]:.1f}",
             "peak MB": _mb(marks.get(stage))}
        )  # fmt: skip
    table.append(
        {"stage": "scan: whole", "seconds": f"{result['scan']['seconds']:.1f}", "rows/s": "",
         "x bare pass": f"{result['scan_ratio_to_bare_pass']:.1f}",
         "peak MB": f"{result['scan']['peak_mb']:,.0f}"}
    )  # fmt: skip
    console.print(
        rows_table(
            f"bench perf: {scenario} {scale} seed {seed}, {rows:,} exchanges, "
            f"{result['accounts']:,} accounts",
            table,
        )
    )
    if result["content_prompts_per_second"]:
        console.print(
            f"content detectors: {result['scan']['content_prompts']:,} sampled prompts in "
            f"{result['scan']['content_seconds']:.1f} s, "
            f"{result['content_prompts_per_second']:,.0f} prompts/s all together; by stage: "
            + ", ".join(
                f"{s['stage']} {s['seconds']:.2f} s"
                + (f" ({s['prompts_per_second']:,.0f}/s)" if s["prompts_per_second"] else "")
                for s in result["scan"]["content_stages"]
            )
        )
    parts = result["scan"]["campaign_seconds"]
    console.print(
        "campaign stage: "
        + ", ".join(
            f"{p} {s:.1f} s" + (f" (peak {_mb(marks[p])} MB)" if marks.get(p) else "")
            for p, s in parts.items()
        )
    )
    slow = sorted(result["scan"]["detectors"].items(), key=lambda kv: -(kv[1] or 0))[:5]
    console.print("slowest detectors: " + ", ".join(f"{d} {s:.1f} s" for d, s in slow))
    if result["quality"] is not None:
        for line in quality_lines(result["quality"]):
            console.print(line)


def _n(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def quality_lines(q: dict[str, Any]) -> list[str]:
    """The scan's figures against the simulator's truth, in words."""
    found = round((q["recall"] or 0) * q["campaign_accounts"])
    lines = [
        f"against the simulator's truth ({q['seconds']:.0f} s, untimed above): recall "
        f"{_n(q['recall'])} ({found:,} of {q['campaign_accounts']:,} campaign accounts), "
        f"precision {_n(q['precision'])}, {_n(q['fp_per_10k'], 1)} false positives per 10,000 "
        f"legitimate accounts ({q['false_positives']:,}), B-cubed F1 {_n(q['bcubed_f1'])}, "
        f"account PR-AUC {_n(q['pr_auc'])}"
    ]
    for c in q["campaign_sizes"]:
        if not c["matched"]:
            lines.append(f"  true campaign {c['campaign_id']}: not found")
            continue
        low, high = c["exchanges_interval"]
        lines.append(
            f"  true campaign {c['campaign_id']}: {c['estimated_accounts']:,} accounts "
            f"(truth {c['true_accounts']:,}), {c['estimated_exchanges']:,} exchanges "
            f"[{low:,}–{high:,}] (truth {c['true_exchanges']:,})"
        )
    return lines


def _mb(mark: float | None) -> str:
    return "" if mark is None else f"{mark:,.0f}"
