"""``stillwatch simulate``: write a simulated data set with its ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stillwatch.cli.app import app
from stillwatch.cli.common import FormatOption
from stillwatch.cli.output import Format, console, emit_json, rows_table
from stillwatch.errors import UsageError
from stillwatch.ingest.dialects import WRITERS
from stillwatch.ingest.dialects.dataset import write_as as rewrite_exchanges
from stillwatch.sim import catalogue, simulate


@app.command("simulate")
def simulate_command(
    out: Annotated[Path, typer.Option("--out", help="folder the data set is written to")],
    scenario: Annotated[
        str | None, typer.Option("--scenario", help="a shipped scenario: " + ", ".join(catalogue()))
    ] = None,
    scenario_file: Annotated[
        Path | None, typer.Option("--scenario-file", help="a scenario YAML file of your own")
    ] = None,
    scale: Annotated[str, typer.Option("--scale", help="small, medium or large")] = "small",
    seed: Annotated[int, typer.Option("--seed", help="same seed and corpus → identical files")] = 1,
    operator_seed: Annotated[
        int | None,
        typer.Option(
            "--operator-seed",
            help="draw the operators (frames, infrastructure, payment) from this seed instead "
            "of --seed: the same operator in data sets with different legitimate populations",
        ),
    ] = None,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite", help="replace a data set already in --out (only the simulator's files)"
        ),
    ] = False,
    days: Annotated[
        int | None, typer.Option("--days", help="shorten the scale's window (quick looks, tests)")
    ] = None,
    write_as: Annotated[
        str | None,
        typer.Option(
            "--write-as",
            help="write the exchanges as a log dialect's export: " + "|".join(WRITERS),
        ),
    ] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Simulate API traffic with legitimate users, look-alikes and campaigns, plus ground truth."""
    if scenario is None and scenario_file is None:
        raise UsageError("give --scenario NAME or --scenario-file FILE")
    if write_as is not None and write_as not in WRITERS:
        raise UsageError(f"--write-as must be one of {', '.join(WRITERS)}, got {write_as!r}")
    summary = simulate(
        scenario=scenario,
        scale=scale,
        seed=seed,
        out=out,
        scenario_file=scenario_file,
        days=days,
        operator_seed=operator_seed,
        overwrite=overwrite,
    )
    if write_as is not None:
        summary["written_as"] = rewrite_exchanges(out, write_as)["file"]
    if fmt == Format.json:
        emit_json(summary)
        return
    rows = [
        {"figure": k, "value": f"{v:,}" if isinstance(v, int) else v} for k, v in summary.items()
    ]
    console.print(
        rows_table(f"simulated {summary['scenario']} ({scale}, seed {seed}) → {out}", rows)
    )
