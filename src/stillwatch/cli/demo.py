"""``stillwatch demo``: the main job on the embedded default, end to end, in minutes.

Simulates a small scenario, ingests it, scans it, prints the campaigns found beside the truth
the simulator planted, explains the largest, writes the report (``report.html``) and makes a
first admin user for the dashboard, whose password it prints once. Reading the simulator's truth here is a
comparison for the person watching, made in the command layer after detection is done;
detection itself never sees it (the import contracts hold that).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from stillwatch.cli.app import app
from stillwatch.cli.common import FormatOption, settings
from stillwatch.cli.output import Format, console, emit_json, rows_table
from stillwatch.engine.casebook import default_path as default_casebook
from stillwatch.engine.casebook import open_casebook
from stillwatch.engine.store import open_store
from stillwatch.ingest import discover, ingest
from stillwatch.report.render import write_report
from stillwatch.web import users as user_admin

DEMO_ADMIN = "admin"


def planted_truth(store: Any, data: Path) -> list[dict[str, Any]]:
    """The campaigns the simulator planted, with their sizes, and how many of each one's
    accounts the scan's reported campaigns hold."""
    labels = str(data / "labels_accounts.parquet").replace("'", "''")
    events = str(data / "labels_exchanges.parquet").replace("'", "''")
    rows = store.sql(
        f"""
        WITH la AS (SELECT * FROM read_parquet('{labels}') WHERE campaign_id IS NOT NULL),
        lx AS (SELECT l.campaign_id, CAST(e.ts AS DATE) AS day
               FROM read_parquet('{events}') l JOIN exchanges e USING (event_id)
               WHERE l.campaign_id IS NOT NULL),
        found AS (
            SELECT la.campaign_id, m.campaign_id AS ours, count(*) AS n
            FROM la JOIN campaign_members m USING (account_id)
            JOIN campaigns c ON c.scan_id = m.scan_id AND c.campaign_id = m.campaign_id
            WHERE m.scan_id = (SELECT scan_id FROM scans WHERE status = 'done'
                               ORDER BY finished_at DESC LIMIT 1) AND c.status = 'reported'
            GROUP BY ALL
        )
        SELECT la.operator_id, la.campaign_id, count(DISTINCT la.account_id),
               (SELECT count(*) FROM lx WHERE lx.campaign_id = la.campaign_id),
               (SELECT min(day) FROM lx WHERE lx.campaign_id = la.campaign_id),
               (SELECT max(day) FROM lx WHERE lx.campaign_id = la.campaign_id),
               (SELECT arg_max(ours, n) FROM found f WHERE f.campaign_id = la.campaign_id),
               (SELECT max(n) FROM found f WHERE f.campaign_id = la.campaign_id)
        FROM la GROUP BY la.operator_id, la.campaign_id ORDER BY 4 DESC
        """
    )
    return [
        {"operator": op, "planted campaign": cid, "accounts": n, "exchanges": ex,
         "first": first, "last": last, "found as": ours or "missed",
         "accounts found": found or 0}
        for op, cid, n, ex, first, last, ours, found in rows
    ]  # fmt: skip


@app.command("demo")
def demo_command(
    workdir: Annotated[Path, typer.Option(help="folder for the data set and the store")] = Path(
        "demo"
    ),
    scenario: Annotated[str, typer.Option(help="simulator scenario")] = "multi-operator",
    seed: Annotated[int, typer.Option(help="simulator seed")] = 1,
    days: Annotated[
        int | None, typer.Option(help="days of traffic to simulate (default: the scenario's)")
    ] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Simulate a small data set with planted campaigns, ingest it, scan it, and show the
    campaigns found beside the ones planted; explain the largest; write the report and make
    a first admin user for the dashboard."""
    from stillwatch.campaigns.explain import explain_campaign, list_campaigns, render_campaign
    from stillwatch.cli.campaigns import _row
    from stillwatch.cli.scan import DETECTION_SETTINGS
    from stillwatch.pipeline import scan
    from stillwatch.sim import simulate  # the simulator is only needed here

    table = fmt == Format.table
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / f"{scenario}-small-{seed}"
    store_path = workdir / "stillwatch.duckdb"
    casebook_path = default_casebook(store_path)
    report_path = workdir / "report.html"
    stale = [store_path, store_path.with_name(store_path.name + ".wal")]
    stale += [casebook_path.with_name(casebook_path.name + x) for x in ("", "-wal", "-shm")]
    for path in stale:
        path.unlink(missing_ok=True)  # the demo's own store and casebook: fresh each run
    if table:
        console.print(f"1/5 simulating scenario {scenario} (small, seed {seed}) into {data}")
    shorter: dict[str, Any] = {} if days is None else {"days": days}
    summary = simulate(
        scenario=scenario, scale="small", seed=seed, out=data, overwrite=True, **shorter
    )
    if table:
        console.print(f"2/5 ingesting {data} into {store_path}")
    sources, notes = discover([str(data)])
    resolved = settings()
    with open_store(store_path, memory_limit=resolved.memory_limit) as store:
        run = ingest(
            store, sources, batch_rows=resolved.batch_rows, max_text_bytes=resolved.max_text_bytes
        )
        counts = store.counts()
        if table:
            totals = run.as_dict()["totals"]
            assert isinstance(totals, dict)
            console.print(f"   {totals['accepted']:,} rows accepted of {totals['rows_read']:,}")
            for note in notes:
                console.print(f"   note: {note}", markup=False)
            console.print("3/5 scanning: features, signals, the account graph, campaigns "
                          "(a few minutes at this scale)")  # fmt: skip
        detection = {k: resolved.values[k] for k in DETECTION_SETTINGS}
        result = scan(store, detection)
        found = list_campaigns(store, result.scan_id)
        truth = planted_truth(store, data)
        largest = (
            explain_campaign(store, found[0]["campaign_id"], result.scan_id) if found else None
        )
        report = write_report(
            store, result.scan_id, report_path, max_nodes=resolved.graph_max_nodes
        )
    password = user_admin.generate_password()
    with open_casebook(casebook_path) as book:
        user_admin.add_user(book, DEMO_ADMIN, "admin", password, actor="demo")
    command = f"stillwatch serve --store {store_path} --casebook {casebook_path}"
    dashboard = {"command": command, "username": DEMO_ADMIN, "password": password}
    payload = {
        "simulated": summary, "ingest": run.as_dict(), "store": str(store_path),
        "tables": counts, "scan": result.as_dict(), "campaigns": found, "planted": truth,
        "largest": largest, "report": report, "dashboard": dashboard,
    }  # fmt: skip
    if not table:
        emit_json(payload)
        return
    console.print(f"4/5 {len(found)} campaign(s) found, {len(truth)} planted")
    if found:
        console.print(rows_table("campaigns found", [_row(r) for r in found]))
    console.print(rows_table("campaigns planted (the simulator's truth)", truth))
    if largest:
        console.print("the largest, explained:")
        for line in render_campaign(largest):
            console.print("  " + line, markup=False, highlight=False, soft_wrap=True)
    console.print(f"5/5 wrote the report {report_path} (open it in a browser)", markup=False)
    console.print("open the dashboard (http://127.0.0.1:8765/ unless web_port says otherwise):")
    console.print(f"  {command}", markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"log in as {DEMO_ADMIN} with the password {password} (shown once; stored hashed)",
        markup=False,
        highlight=False,
    )
