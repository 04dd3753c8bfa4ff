"""``stillwatch report [--campaign ID] --out FILE``: the campaigns of the latest scan as a
self-contained report, HTML, Markdown or JSON by the file's extension (``report/render.py``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from stillwatch.cli.app import EXIT_FINDINGS, app
from stillwatch.cli.common import FormatOption, StoreOption, settings, store_from
from stillwatch.cli.output import Format, console, emit_json


@app.command("report")
def report_command(
    out: Annotated[Path, typer.Option("--out", help="file to write: .html, .md or .json")],
    campaign: Annotated[
        list[str] | None,
        typer.Option("--campaign", help="a campaign id (repeatable); default every reported one"),
    ] = None,
    show_text: Annotated[
        bool, typer.Option("--show-text", help="include sample prompt text (redacted otherwise)")
    ] = False,
    scan_id: Annotated[str | None, typer.Option("--scan", help="scan id; default latest")] = None,
    store: StoreOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Write a report of the latest scan's campaigns: a disclosure-style summary each, then
    exchanges per day against other traffic, the account graph, capability mix and
    infrastructure against the population, hour-of-week rhythm, evidence and sample prompts
    (frame highlighted). Exit 1 when it reports a campaign, 0 when there is none."""
    from stillwatch.pipeline import latest_scan
    from stillwatch.report.render import out_format, write_report

    out_format(out)  # a bad --out fails before the store is opened
    resolved = settings(store=store)
    with store_from(resolved) as opened:
        sid = scan_id or latest_scan(opened)
        done = write_report(
            opened, sid, out, campaign, show_text=show_text, max_nodes=resolved.graph_max_nodes
        )
    if fmt == Format.json:
        emit_json(done)
    else:
        console.print(
            f"wrote {out} ({done['format']}): {len(done['campaigns'])} campaign(s) of scan {sid}",
            markup=False,
            highlight=False,
        )
        for extra in done["files"][1:]:
            console.print(f"  picture {extra}", markup=False, highlight=False)
        for line in done["summaries"]:
            console.print("  " + line, markup=False, highlight=False, soft_wrap=True)
    if done["reported"]:
        sys.exit(EXIT_FINDINGS)
