"""``stillwatch ingest``: read canonical tables, or the logs users already have (``--source``),
into the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from stillwatch.cli.app import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, app
from stillwatch.cli.common import FormatOption, StoreOption, settings, store_from
from stillwatch.cli.output import Format, console, emit_json, err_console, rows_table
from stillwatch.ingest import discover, ingest
from stillwatch.ingest.dialects import DIALECTS, adapter
from stillwatch.ingest.load import FileReport
from stillwatch.ingest.run import RunReport
from stillwatch.ingest.sources import SOURCES, SourceFile

UNMAPPED_SHOWN = 8  # unmapped fields printed per file (all of them under --format json)


def _print_mapping(f: FileReport) -> None:
    """What a dialect file's records became, in lines that add up."""
    name = Path(f.file).name
    r = f.records
    lines = [
        f"{name} ({f.source}, account_id from {f.account_from}): records {f.records_read} = "
        f"with rows {r.get('mapped', 0)} + quarantined {r.get('quarantined', 0)} "
        f"+ skipped {r.get('skipped', 0)}",
        f"  rows read {f.rows_read} = mapped {f.rows_mapped} + parts quarantined before "
        f"validation {f.parts_quarantined}",
    ]
    if f.parts_skipped:
        skipped = ", ".join(f"{reason} {n}" for reason, n in f.parts_skipped.items())
        lines.append(f"  parts skipped {sum(f.parts_skipped.values())}: {skipped}")
    if f.unmapped:
        shown = list(f.unmapped.items())[:UNMAPPED_SHOWN]
        more = len(f.unmapped) - len(shown)
        lines.append(
            "  unmapped fields (records holding them): "
            + ", ".join(f"{k} {n}" for k, n in shown)
            + (f", and {more} more (--format json lists all)" if more > 0 else "")
        )
    if f.accounts_added:
        lines.append(f"  accounts named by the records, new to the store: {f.accounts_added}")
    for line in lines:
        console.print(line, markup=False, highlight=False)


def _print_run(run: RunReport) -> None:
    rows = []
    for f in run.files:
        rows.append(
            {
                "file": Path(f.file).name,
                "table": f.table,
                "source": f.source,
                "read": f.rows_read,
                "accepted": f.accepted,
                "duplicates": f.duplicates,
                "conflicts": f.conflicts,
                "quarantined": f.quarantined,
            }
        )
    console.print(rows_table("ingest", rows))
    for f in run.files:
        if f.source != "canonical" and not f.skipped:
            _print_mapping(f)
    for f in run.files:
        for note in [f.skipped] if f.skipped else f.warnings:
            console.print(f"{Path(f.file).name}: {note}", markup=False, highlight=False)
    t = run.as_dict()["totals"]
    assert isinstance(t, dict)
    console.print(
        f"read {t['rows_read']} = accepted {t['accepted']} + duplicates {t['duplicates']} "
        f"+ conflicts {t['conflicts']} + quarantined {t['quarantined']}"
        + (f"  (accounts replaced: {t['replaced']})" if t["replaced"] else "")
    )
    for note in run.notes:
        console.print(f"note: {note}")
    if any(f.quarantined or f.conflicts for f in run.files):
        console.print("see the bad rows with: stillwatch quarantine")


@app.command("ingest")
def ingest_command(
    paths: Annotated[
        list[str] | None,
        typer.Argument(help="exchanges files, globs or folders; a data-set folder brings all"),
    ] = None,
    accounts: Annotated[
        list[str] | None, typer.Option("--accounts", help="accounts file(s), globs or folders")
    ] = None,
    enforcements: Annotated[
        list[str] | None,
        typer.Option("--enforcements", help="enforcements file(s), globs or folders"),
    ] = None,
    input_format: Annotated[
        str | None,
        typer.Option("--input-format", help="parquet|jsonl|csv when the names do not say"),
    ] = None,
    source: Annotated[
        str,
        typer.Option(
            "--source",
            help="log dialect of the exchanges files: "
            + "|".join(SOURCES)
            + " (auto tells it from each file's first records; docs/formats.md)",
        ),
    ] = "auto",
    fail_on_quarantine: Annotated[
        bool, typer.Option(help="exit 1 when any row was quarantined (for pipelines)")
    ] = False,
    store: StoreOption = None,
    batch_rows: Annotated[int | None, typer.Option(help="rows per batch [setting]")] = None,
    max_text_bytes: Annotated[
        int | None, typer.Option(help="text size limit in bytes [setting]")
    ] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Ingest exchanges, accounts and enforcements into the store.

    Exchanges may be canonical rows or a log dialect's export (OpenAI or Anthropic bodies in
    the gateway envelope, OTel GenAI spans, LiteLLM, Langfuse, Helicone). Rows are validated
    and deduplicated, one transaction per file; bad rows are quarantined with their reasons
    (see `stillwatch quarantine`).
    """
    resolved = settings(store=store, batch_rows=batch_rows, max_text_bytes=max_text_bytes)
    sources, notes = discover(paths or [], accounts, enforcements, input_format, source)
    if source != "canonical":  # a bad *_account_from setting is a usage error, said up front
        for name in DIALECTS if source == "auto" else [source]:
            adapter(name, resolved)
    with store_from(resolved, create=True) as opened:
        show = fmt == Format.table and err_console.is_terminal
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeRemainingColumn(),
            console=err_console,
            disable=not show,
            transient=True,
        ) as bar:
            tasks: dict[SourceFile, TaskID] = {}

            def progress(source: SourceFile, done: int, total: int) -> None:
                if source not in tasks:
                    tasks[source] = bar.add_task(Path(source.path).name, total=total or None)
                bar.update(tasks[source], completed=done)

            run = ingest(
                opened,
                sources,
                batch_rows=resolved.batch_rows,
                max_text_bytes=resolved.max_text_bytes,
                progress=progress,
                conflict_window=resolved.conflict_window,
                dialect_settings=resolved,
                max_record_bytes=resolved.max_record_bytes,
            )
    run.notes += notes
    if fmt == Format.json:
        emit_json(run.as_dict())
    else:
        _print_run(run)
    for error in run.errors:
        typer.echo(f"error: {error}", err=True)  # one line, never wrapped
    if run.errors:
        raise typer.Exit(EXIT_USAGE)
    if fail_on_quarantine and any(f.quarantined or f.conflicts for f in run.files):
        raise typer.Exit(EXIT_FINDINGS)
    raise typer.Exit(EXIT_OK)
