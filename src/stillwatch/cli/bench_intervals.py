"""``stillwatch bench intervals``: choose the campaign size intervals' widening on saved
development runs (split-conformal calibration, :mod:`stillwatch.bench.intervals`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stillwatch.bench.intervals import TARGET, calibrate
from stillwatch.cli.app import bench_app
from stillwatch.cli.common import FormatOption
from stillwatch.cli.output import Format, console, emit_json, rows_table
from stillwatch.errors import UsageError


@bench_app.command("intervals")
def bench_intervals_command(
    saved: Annotated[
        list[Path], typer.Argument(help="bench quality --save files (development seeds)")
    ],
    target: Annotated[float, typer.Option(help="coverage every scenario must reach")] = TARGET,
    fmt: FormatOption = Format.table,
) -> None:
    """Coverage and half-width of the size intervals at each widening, from saved runs."""
    missing = [str(p) for p in saved if not p.is_file()]
    if missing:
        raise UsageError(f"no such file: {', '.join(missing)}")
    try:
        result = calibrate(saved, target)
    except (ValueError, KeyError) as exc:
        raise UsageError(f"bench intervals: {exc}") from None
    if fmt == Format.json:
        emit_json(result)
        return
    rows = []
    for point in result["grid"]:
        worst = {
            k: min(p[k] for p in point["scenarios"].values())
            for k in ("exchanges_covered", "accounts_covered")
        }
        widest = {
            k: max(p[k] for p in point["scenarios"].values())
            for k in ("exchanges_half_width", "accounts_half_width")
        }
        rows.append({
            "unseen share": f"{point['unseen_share']:.2f}",
            "mixture margin": f"{point['mixture_margin']:.1f}",
            "worst exchanges coverage": f"{worst['exchanges_covered']:.0%}",
            "worst accounts coverage": f"{worst['accounts_covered']:.0%}",
            "widest median half-width (exch / acc)":
                f"{widest['exchanges_half_width']:.3f} / {widest['accounts_half_width']:.3f}",
            "meets": "yes" if point["meets"] else "",
        })  # fmt: skip
    console.print(rows_table(f"size intervals on {len(saved)} saved run(s)", rows))
    chosen = result["chosen"]
    if chosen is None:
        console.print(f"no grid point reaches {target:.0%} on every scenario")
        return
    point = next(
        p for p in result["grid"]
        if (p["unseen_share"], p["mixture_margin"]) == (chosen["unseen_share"], chosen["mixture_margin"])
    )  # fmt: skip
    per = [
        {"scenario": s, "campaigns": p["campaigns"],
         "exchanges covered": f"{p['exchanges_covered']:.0%}",
         "accounts covered": f"{p['accounts_covered']:.0%}",
         "median half-width, exchanges": f"{p['exchanges_half_width']:.3f}",
         "median half-width, accounts": f"{p['accounts_half_width']:.3f}"}
        for s, p in point["scenarios"].items()
    ]  # fmt: skip
    console.print(rows_table("at the chosen point", per))
    console.print(
        f"chosen: campaign_unseen_share {chosen['unseen_share']}, "
        f"campaign_mixture_margin {chosen['mixture_margin']}"
    )
