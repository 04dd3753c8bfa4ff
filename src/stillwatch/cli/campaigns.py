"""``stillwatch campaigns``, ``stillwatch explain campaign ID`` and ``stillwatch export members
CAMPAIGN --out FILE``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from stillwatch.cli.app import EXIT_FINDINGS, app
from stillwatch.cli.common import FormatOption, StoreOption, settings, store_from
from stillwatch.cli.output import Format, console, emit_json, rows_table
from stillwatch.cli.scan import explain_app
from stillwatch.errors import StillwatchError, UsageError

export_app = typer.Typer(help="Write results to files for enforcement.", no_args_is_help=True)
app.add_typer(export_app, name="export")

ScanOption = Annotated[str | None, typer.Option("--scan", help="scan id; default latest")]


@app.command("campaigns")
def campaigns_command(
    store: StoreOption = None,
    scan_id: ScanOption = None,
    candidates: Annotated[
        bool, typer.Option("--candidates", help="also list clusters below the threshold")
    ] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """The campaigns of the latest scan: accounts, exchanges and first/last day, each with its
    interval, and the operator. Exit 1 when a campaign is reported, 0 when none is."""
    from stillwatch.campaigns.explain import list_campaigns
    from stillwatch.pipeline import latest_scan

    with store_from(settings(store=store)) as opened:
        sid = scan_id or latest_scan(opened)
        rows = list_campaigns(opened, sid, include_candidates=candidates)
        threshold = opened.scalar(
            "SELECT CAST(json_extract(summary, '$.threshold.threshold') AS DOUBLE) FROM scans "
            "WHERE scan_id = ?",
            [sid],
        )
        notes = json.loads(
            opened.scalar(
                "SELECT coalesce(json_extract(summary, '$.notes'), '[]') FROM scans "
                "WHERE scan_id = ?",
                [sid],
            )
            or "[]"
        )
    reported = [r for r in rows if r["status"] == "reported"]
    if fmt == Format.json:
        emit_json({"scan_id": sid, "threshold": threshold, "notes": notes, "campaigns": rows})
    else:
        console.print(f"scan {sid}: {len(reported)} campaign(s) reported")
        for note in notes:
            console.print(f"note: {note}", markup=False)
        shown = [_row(r) for r in rows]
        if shown:
            console.print(rows_table("campaigns", shown))
            console.print(f"next: stillwatch explain campaign {rows[0]['campaign_id']}")
    if reported:
        sys.exit(EXIT_FINDINGS)


def _span(v: Any, lo: Any, hi: Any) -> str:
    if v is None:
        return ""
    return f"{v:,} [{lo:,}–{hi:,}]" if isinstance(v, int) else f"{v} [{lo}–{hi}]"


def _row(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "campaign": r["campaign_id"],
        "operator": r["operator_id"] or "",
        "status": r["status"],
        "score": f"{r['score']:.2f}",
        "accounts [interval]": _span(r["accounts"], r["accounts_low"], r["accounts_high"]),
        "exchanges [interval]": _span(r["exchanges"], r["exchanges_low"], r["exchanges_high"]),
        "first seen": r["first_seen"] or "",
        "last seen": r["last_seen"] or "",
    }


@explain_app.command("campaign")
def explain_campaign_command(
    campaign_id: Annotated[str, typer.Argument(help="the campaign id")],
    scan_id: ScanOption = None,
    store: StoreOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Why a cluster of accounts is (or is not) reported as a campaign: its score against the
    threshold, the cluster-level facts, its size with intervals, what it shares."""
    from stillwatch.campaigns.explain import explain_campaign, render_campaign
    from stillwatch.pipeline import latest_scan

    with store_from(settings(store=store)) as opened:
        sid = scan_id or latest_scan(opened)
        payload = explain_campaign(opened, campaign_id, sid)
    if fmt == Format.json:
        emit_json(payload)
        return
    for line in render_campaign(payload):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


@export_app.command("members")
def export_members_command(
    campaign_id: Annotated[str, typer.Argument(help="the campaign id")],
    out: Annotated[Path, typer.Option("--out", help="file to write: .csv or .parquet")],
    scan_id: ScanOption = None,
    store: StoreOption = None,
) -> None:
    """Write a campaign's member accounts (with membership, role, API keys and exchanges
    serving the campaign) for enforcement; the format follows the file's extension."""
    from stillwatch.pipeline import latest_scan

    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise UsageError(f"--out {out}: the extension must be .csv or .parquet")
    if not out.parent.exists():
        raise UsageError(f"--out {out}: folder {out.parent} does not exist")
    with store_from(settings(store=store)) as opened:
        sid = scan_id or latest_scan(opened)
        if not opened.scalar(
            "SELECT count(*) FROM campaigns WHERE scan_id = ? AND campaign_id = ?",
            [sid, campaign_id],
        ):
            raise StillwatchError(f"campaign {campaign_id!r}: not in scan {sid}")
        query = """
            SELECT m.account_id, m.campaign_id, c.operator_id, m.membership, m.role,
                   coalesce(e.exchanges, 0) AS campaign_exchanges, e.first_day, e.last_day,
                   e.api_keys
            FROM campaign_members m JOIN campaigns c USING (scan_id, campaign_id)
            LEFT JOIN (
                SELECT ce.account_id, count(*) AS exchanges, min(ce.day) AS first_day,
                       max(ce.day) AS last_day,
                       list(DISTINCT x.api_key_id ORDER BY x.api_key_id)
                           FILTER (WHERE x.api_key_id IS NOT NULL) AS api_keys
                FROM campaign_exchanges ce JOIN exchanges x USING (event_id)
                WHERE ce.scan_id = ? AND ce.campaign_id = ? GROUP BY ce.account_id
            ) e USING (account_id)
            WHERE m.scan_id = ? AND m.campaign_id = ? ORDER BY m.account_id
        """
        table = opened.con.sql(query, params=[sid, campaign_id, sid, campaign_id]).to_arrow_table()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, out)
    else:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        keys = table.column("api_keys").to_pylist()
        table = table.set_column(
            table.column_names.index("api_keys"), "api_keys",
            pa.array([";".join(k or []) for k in keys], pa.string()),
        )  # fmt: skip
        pacsv.write_csv(table, out)
    console.print(f"wrote {table.num_rows} member(s) of {campaign_id} to {out}")
