"""``stillwatch bench quality``: every method scored side by side on simulated scenarios."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from stillwatch.bench.methods import METHODS, RAW_INTERVALS
from stillwatch.bench.quality import DEFAULT_SEEDS, SCALES, SCENARIOS, QualityBench, scenario_file
from stillwatch.bench.report import scenario_rows, scenario_title
from stillwatch.cli.app import bench_app
from stillwatch.cli.output import Format, console, emit, err_console, rows_table
from stillwatch.errors import UsageError


def parse_seeds(text: str) -> list[int]:
    """``1000-1002``, ``1,5,9`` or a mix: ``1-3,7``."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                low, high = (int(x) for x in part.split("-", 1))
                if high < low:
                    raise ValueError
                seeds.extend(range(low, high + 1))
            elif part:
                seeds.append(int(part))
    except ValueError:
        raise UsageError(
            f"--seeds: expected seeds like 1000-1002 or 1,5,9 (non-negative integers); got {text!r}"
        ) from None
    if not seeds or min(seeds) < 0:
        raise UsageError(f"--seeds: expected at least one non-negative seed; got {text!r}")
    return sorted(set(seeds))


def _choices(
    flag: str, given: list[str] | None, allowed: tuple[str, ...], also: tuple[str, ...] = ()
) -> list[str]:
    """The names given (``also``: accepted when named, never in the default of all)."""
    names = [n.strip() for g in (given or []) for n in g.split(",") if n.strip()]
    if not names or names == ["all"]:
        return list(allowed)
    allowed = (*allowed, *also)
    unknown = [n for n in names if n not in allowed and not _own_file(flag, n)]
    if unknown:
        raise UsageError(f"{flag}: unknown {', '.join(unknown)}; choose from {', '.join(allowed)}")
    return list(dict.fromkeys(names))


def _own_file(flag: str, name: str) -> bool:
    """Whether ``name`` is a scenario file of the user's (``--scenario`` only); a file named
    that does not exist is an error."""
    if flag != "--scenario" or scenario_file(name) is None:
        return False
    if not Path(name).is_file():
        raise UsageError(f"{flag}: {name}: no such scenario file")
    return True


@bench_app.command("quality")
def quality(
    scenario: list[str] | None = typer.Option(
        None,
        "--scenario",
        help="Scenario(s), repeatable or comma-separated, or your own scenario file "
        "(.yaml); default all shipped.",
    ),
    scale: str = typer.Option("small", "--scale", help=f"One of {', '.join(SCALES)}."),
    seeds: str = typer.Option(
        f"{DEFAULT_SEEDS[0]}-{DEFAULT_SEEDS[-1]}",
        "--seeds",
        help="Seeds, e.g. 1000-1002 or 1,5,9. Reported figures use 1000 and up.",
    ),
    methods: list[str] | None = typer.Option(
        None,
        "--methods",
        help=f"Methods, comma-separated; default all: {', '.join(METHODS)} "
        f"({RAW_INTERVALS}: stillwatch with unwidened size intervals, for bench intervals).",
    ),
    data_dir: Path = typer.Option(
        Path("bench-data/quality"), "--data-dir", help="Where simulated data sets are kept."
    ),
    no_content: bool = typer.Option(
        False,
        "--no-content",
        help="Withhold prompt, system_prompt and response from every method (prompt_sha256 stays).",
    ),
    without: list[str] | None = typer.Option(
        None,
        "--without",
        help="Ablation: also run stillwatch without this detector family (repeatable or "
        "comma-separated), one column each.",
    ),
    no_content_beside: bool = typer.Option(
        False,
        "--no-content-beside",
        help="Also run stillwatch with prompt text withheld, in a column beside the full one.",
    ),
    in_process: bool = typer.Option(
        False, "--in-process", help="Run methods in this process (faster; no memory figure)."
    ),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json."),
    save: Path | None = typer.Option(
        None, "--save", help="Also write the JSON record (figures, settings, seeds) to this file."
    ),
) -> None:
    """Simulate (or reuse) each scenario, run every method, print the figures METRICS.md
    defines (worst of the seeds), wall time and peak memory."""
    if scale not in SCALES:
        raise UsageError(f"--scale: choose from {', '.join(SCALES)}; got {scale!r}")
    chosen = _choices("--methods", methods, tuple(METHODS), also=(RAW_INTERVALS,))
    families = [f.strip() for item in without or [] for f in item.split(",") if f.strip()]
    from stillwatch.detectors.base import FAMILIES

    bad = sorted(set(families) - set(FAMILIES))
    if bad:
        raise UsageError(f"--without: unknown family {bad[0]!r}; choose from {', '.join(FAMILIES)}")
    chosen += [f"stillwatch~{f}" for f in families]
    if no_content_beside:
        chosen.append("stillwatch@no-content")
    bench = QualityBench(
        scenarios=_choices("--scenario", scenario, SCENARIOS),
        scale=scale,
        seeds=parse_seeds(seeds),
        methods=chosen,
        data_root=data_dir,
        isolate=not in_process,
        no_content=no_content,
        progress=lambda line: err_console.print(f"[dim]{line}[/dim]"),
    )
    payload = bench.run()
    if save is not None:
        save.parent.mkdir(parents=True, exist_ok=True)
        save.write_text(json.dumps(payload, indent=2, default=str) + "\n")

    def render(p: dict) -> None:
        names = list(p["settings"]["methods"])
        # Piped output (files, the README) gets room for every method's column.
        out = console if console.is_terminal else Console(width=160)
        for result in p["scenarios"]:
            out.print(
                rows_table(scenario_title(result), scenario_rows(result, names), ["figure", *names])
            )

    emit(payload, fmt, render)
