"""``stillwatch scan``, ``stillwatch explain account ID`` and ``stillwatch detectors list``."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from stillwatch.cli.app import EXIT_FINDINGS, app
from stillwatch.cli.common import FormatOption, StoreOption, settings, store_from
from stillwatch.cli.output import Format, console, emit_json, err_console, rows_table

explain_app = typer.Typer(
    help="The evidence behind a result, in plain words.", no_args_is_help=True
)
detectors_app = typer.Typer(help="The registered detectors.", no_args_is_help=True)
app.add_typer(explain_app, name="explain")
app.add_typer(detectors_app, name="detectors")

DETECTION_SETTINGS = (
    "flag_threshold", "rules", "link_top_k", "campaign_target_fpr", "campaign_min_score",
    "campaign_resolution", "campaign_leiden_iterations", "campaign_merge_ratio",
    "campaign_attribution_ratio", "campaign_trim_strength", "campaign_outer_share",
    "campaign_outer_account", "campaign_min_accounts", "campaign_null_rounds",
    "campaign_bootstrap_rounds",
    "campaign_unseen_share", "campaign_mixture_margin",
)  # fmt: skip


@app.command("scan")
def scan_command(
    store: StoreOption = None,
    flag_threshold: Annotated[
        float | None,
        typer.Option(help="flag accounts scoring at least this [setting: flag_threshold]"),
    ] = None,
    rules: Annotated[
        str | None, typer.Option(help="extra rule files, comma-separated [setting: rules]")
    ] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Score every account in the store and find campaigns: features, signals, account
    scores, the account graph, campaigns with sizes and operators, under a new scan id. The
    casebook's allowlist is honoured and analysts' dismissals count as known negatives. Exit 1
    when a campaign is reported (its members are flagged), 0 when none is."""
    from stillwatch.campaigns.explain import list_campaigns
    from stillwatch.engine.casebook import default_path, read_casebook
    from stillwatch.pipeline import analyst_input, scan

    resolved = settings(store=store, flag_threshold=flag_threshold, rules=rules)
    detection = {k: resolved.values[k] for k in DETECTION_SETTINGS}
    casebook = resolved.values.get("casebook") or default_path(resolved.store)
    with read_casebook(casebook) as book, store_from(resolved) as opened:
        analyst = analyst_input(book)
        if fmt == Format.table and err_console.is_terminal:
            with err_console.status("scanning") as status:
                result = scan(opened, detection, progress=lambda m: status.update(m),
                              analyst=analyst)  # fmt: skip
        else:
            result = scan(
                opened, detection, progress=lambda m: err_console.print(f"[dim]{m}[/dim]"),
                analyst=analyst,
            )  # fmt: skip
        found = list_campaigns(opened, result.scan_id)
    payload: dict[str, Any] = {**result.as_dict(), "campaign_list": found}
    if fmt == Format.json:
        emit_json(payload)
    else:
        _render_scan(payload)
    if result.flagged:
        sys.exit(EXIT_FINDINGS)


def _render_scan(p: dict[str, Any]) -> None:
    from stillwatch.detectors.base import FAMILY_GROUPS

    console.print(f"scan {p['scan_id']}")
    rows = [
        {
            "detector": d,
            "group": FAMILY_GROUPS.get(v["family"], "?"),
            "accounts": v.get("signals", "skipped"),
            "pairs": v.get("links", ""),
            "seconds": v.get("seconds", ""),
        }
        for d, v in p["detectors"].items()
    ]
    console.print(rows_table("detectors", rows))
    for d, v in p["detectors"].items():
        if not v["ran"]:
            console.print(f"skipped {d}: {v.get('reason')}", markup=False)
    console.print(
        f"{p['accounts']:,} accounts scored; {p['campaigns']} campaign(s) reported with "
        f"{p['flagged']:,} member account(s); {p['signals']:,} signals, "
        f"{p['link_candidates']:,} pair candidates, {p['links']:,} edges; seconds: "
        + ", ".join(f"{k} {v:.1f}" for k, v in p["seconds"].items())
    )
    for note in p.get("notes", []):
        console.print(f"note: {note}", markup=False)
    if p["campaign_list"]:
        from stillwatch.cli.campaigns import _row

        console.print(rows_table("campaigns", [_row(r) for r in p["campaign_list"]]))
        console.print(f"next: stillwatch explain campaign {p['campaign_list'][0]['campaign_id']}")


@explain_app.command("account")
def explain_account_command(
    account_id: Annotated[str, typer.Argument(help="the account id")],
    scan_id: Annotated[str | None, typer.Option("--scan", help="scan id; default latest")] = None,
    show_text: Annotated[
        bool, typer.Option("--show-text", help="show prompt text (redacted by default)")
    ] = False,
    store: StoreOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Why an account scored what it did: the top facts with their numbers, and for an
    account that was not flagged, why not."""
    from stillwatch.detectors.explain import explain_account, render_text
    from stillwatch.pipeline import latest_scan

    resolved = settings(store=store)
    with store_from(resolved) as opened:
        sid = scan_id or latest_scan(opened)
        payload = explain_account(opened, account_id, sid, show_text=show_text)
    if fmt == Format.json:
        emit_json(payload)
        return
    for line in render_text(payload):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


@detectors_app.command("list")
def detectors_list_command(fmt: FormatOption = Format.table) -> None:
    """Every registered detector: id, version, family, what it reads, what it catches and its
    known false positives."""
    from stillwatch.detectors.base import FAMILY_GROUPS
    from stillwatch.detectors.registry import detectors

    items = [
        {
            "id": d.id,
            "version": d.version,
            "family": d.family,
            "group": FAMILY_GROUPS[d.family],
            "kind": "rule" if hasattr(d, "terms") else "class",
            "requires": list(d.requires),
            "evidence_keys": list(d.evidence_keys),
            "catches": d.description,
            "false_positives": d.false_positives,
        }
        for d in detectors()
    ]
    if fmt == Format.json:
        emit_json(items)
        return
    console.print(
        rows_table(
            "detectors",
            [{**i, "requires": ", ".join(i["requires"])} for i in items],
            ["id", "version", "group", "family", "kind", "requires", "catches", "false_positives"],
        )
    )
