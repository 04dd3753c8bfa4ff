"""Commands about the store itself: status, quarantine, forget, config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from stillwatch.cli.app import app
from stillwatch.cli.common import FormatOption, StoreOption, settings, store_from
from stillwatch.cli.output import Format, console, emit_json, rows_table
from stillwatch.engine.casebook import default_path, forget_in_casebook, open_casebook
from stillwatch.engine.forget import forget_account
from stillwatch.errors import UsageError
from stillwatch.settings import SECRET_SETTINGS, SETTINGS


@app.command("status")
def status_command(store: StoreOption = None, fmt: FormatOption = Format.table) -> None:
    """What the store holds: rows per table, time span, and the latest ingests."""
    resolved = settings(store=store)
    with store_from(resolved) as opened:
        counts = opened.counts()
        span = opened.sql("SELECT min(ts), max(ts), count(DISTINCT account_id) FROM exchanges")[0]
        runs = opened.sql(
            """SELECT ingest_id, table_name, file, rows_read, accepted, duplicates, conflicts,
                      quarantined, finished_at FROM ingest_runs ORDER BY ingest_id DESC LIMIT 10"""
        )
    payload: dict[str, Any] = {
        "store": str(resolved.store),
        "tables": counts,
        "exchanges_first": span[0],
        "exchanges_last": span[1],
        "accounts_in_exchanges": span[2],
        "recent_ingests": [
            dict(
                zip(
                    ["ingest_id", "table", "file", "read", "accepted", "duplicates",
                     "conflicts", "quarantined", "finished_at"],
                    r, strict=True,
                )
            )
            for r in runs
        ],
    }  # fmt: skip
    if fmt == Format.json:
        emit_json(payload)
        return
    console.print(f"store {payload['store']}")
    console.print(rows_table("rows", [{"table": k, "rows": v} for k, v in counts.items()]))
    if span[0] is not None:
        console.print(f"exchanges from {span[0]} to {span[1]}, {span[2]} accounts")
    if runs:
        console.print(rows_table("recent ingests", payload["recent_ingests"]))


@app.command("quarantine")
def quarantine_command(
    limit: Annotated[int, typer.Option(help="rows to show")] = 50,
    file: Annotated[str | None, typer.Option(help="only rows from files containing this")] = None,
    store: StoreOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Rows that were not accepted, with file, line, reason and raw text."""
    if limit < 0:
        raise UsageError(f"--limit must be 0 or more, got {limit}")
    resolved = settings(store=store)
    with store_from(resolved) as opened:
        where, params = ("WHERE file LIKE ?", [f"%{file}%"]) if file else ("", [])
        rows = opened.sql(
            f"""SELECT ingest_id, table_name, file, line, part, reason, left(raw, 200)
                FROM quarantine {where} ORDER BY ingest_id, line LIMIT ?""",
            [*params, limit],
        )
        total = opened.scalar(f"SELECT count(*) FROM quarantine {where}", params)
        by_reason = opened.sql(
            f"""SELECT split_part(reason, ':', 1) AS kind, count(*) AS n FROM quarantine {where}
                GROUP BY kind ORDER BY n DESC LIMIT 20""",
            params,
        )
    keys = ["ingest_id", "table", "file", "line", "part", "reason", "raw"]
    items = [dict(zip(keys, r, strict=True)) for r in rows]
    if fmt == Format.json:
        emit_json({"total": total, "by_reason": dict(by_reason), "rows": items})
        return
    console.print(f"{total} quarantined row(s)")
    if by_reason:
        console.print(rows_table("by reason", [{"reason": k, "rows": n} for k, n in by_reason]))
    if items:
        console.print(rows_table(f"first {len(items)}", items))


@app.command("forget")
def forget_command(
    account_id: Annotated[str, typer.Argument(help="the account whose rows to delete")],
    store: StoreOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Delete an account's rows everywhere in the store (a privacy request), and record it.

    The store file is then rebuilt (copied, then renamed into place) so that no byte of the
    deleted rows stays on disk in it or in its write-ahead log; this needs room for a second
    copy of the store for a while.
    """
    resolved = settings(store=store)
    with store_from(resolved) as opened:
        done = forget_account(opened, account_id)
    # The casebook (the web server's decisions and audit) forgets too: see engine/casebook.py.
    book_path = Path(resolved.casebook) if resolved.casebook else default_path(resolved.store)
    casebook: dict[str, int] = {}
    if book_path.exists():
        with open_casebook(book_path) as book:
            casebook = forget_in_casebook(book, account_id)
    if fmt == Format.json:
        emit_json(
            {
                "deleted": done.deleted,
                "total": done.total,
                "rewrite_seconds": done.rewrite_seconds,
                "casebook": casebook,
            }
        )
        return
    if casebook:
        console.print(
            "casebook: deleted verdicts, actions, allowlist entries; audit rows keep the id's "
            "SHA-256: " + ", ".join(f"{t} {n}" for t, n in casebook.items())
        )
    console.print(
        f"deleted {done.total} row(s): "
        + ", ".join(f"{t} {n}" for t, n in done.deleted.items())
        + f"; store file rewritten in {done.rewrite_seconds:.1f}s"
    )


@app.command("config")
def config_command(fmt: FormatOption = Format.table) -> None:
    """Every setting's resolved value and where it came from."""
    resolved = settings()
    rows = [
        {
            "setting": s.name,
            "value": (
                ("(set)" if resolved.values[s.name] else "(not set)")
                if s.name in SECRET_SETTINGS
                else resolved.values[s.name]
            ),
            "source": resolved.sources[s.name],
            "env": s.env,
            "help": s.help,
        }
        for s in SETTINGS
    ]
    if fmt == Format.json:
        emit_json(rows)
    else:
        console.print(rows_table("settings", rows))
