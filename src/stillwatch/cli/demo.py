"""``stillwatch demo``: the main job on the embedded default, end to end, in minutes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stillwatch.cli.app import app
from stillwatch.cli.common import FormatOption, settings
from stillwatch.cli.output import Format, console, emit_json, rows_table
from stillwatch.engine.store import open_store
from stillwatch.ingest import discover, ingest


@app.command("demo")
def demo_command(
    workdir: Annotated[Path, typer.Option(help="folder for the data set and the store")] = Path(
        "demo"
    ),
    scenario: Annotated[str, typer.Option(help="simulator scenario")] = "low-and-slow",
    seed: Annotated[int, typer.Option(help="simulator seed")] = 1,
    fmt: FormatOption = Format.table,
) -> None:
    """Simulate a small data set with a planted campaign, ingest it, and show the store."""
    from stillwatch.sim import simulate  # the simulator is only needed here

    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / f"{scenario}-small-{seed}"
    store_path = workdir / "stillwatch.duckdb"
    if fmt == Format.table:
        console.print(f"1/3 simulating scenario {scenario} (small, seed {seed}) into {data}")
    summary = simulate(scenario=scenario, scale="small", seed=seed, out=data)
    if fmt == Format.table:
        console.print(f"2/3 ingesting {data} into {store_path}")
    sources, notes = discover([str(data)])
    resolved = settings()
    with open_store(store_path, memory_limit=resolved.memory_limit) as store:
        run = ingest(
            store,
            sources,
            batch_rows=resolved.batch_rows,
            max_text_bytes=resolved.max_text_bytes,
        )
        counts = store.counts()
        span = store.sql("SELECT min(ts), max(ts), count(DISTINCT account_id) FROM exchanges")[0]
    payload = {
        "simulated": summary,
        "ingest": run.as_dict(),
        "store": str(store_path),
        "tables": counts,
        "first": span[0],
        "last": span[1],
        "accounts_active": span[2],
    }
    if fmt == Format.json:
        emit_json(payload)
        return
    totals = run.as_dict()["totals"]
    assert isinstance(totals, dict)
    console.print(
        f"   read {totals['rows_read']} rows: accepted {totals['accepted']}, duplicates "
        f"{totals['duplicates']}, conflicts {totals['conflicts']}, quarantined "
        f"{totals['quarantined']}"
    )
    for note in notes:
        console.print(f"   note: {note}", markup=False)
    console.print("3/3 the store holds:")
    console.print(rows_table("", [{"table": k, "rows": v} for k, v in counts.items()]))
    console.print(f"exchanges from {span[0]} to {span[1]}, {span[2]} active accounts")
    console.print(f"next: stillwatch status --store {store_path}")
