"""``stillwatch intel``: share campaigns as STIX 2.1 and use partners' indicators.

keygen, export, import, match, psi (request / respond / count), push, pull. The threat model
and what each command reveals: docs/sharing.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from stillwatch.cli.app import EXIT_FINDINGS, app
from stillwatch.cli.common import FormatOption, StoreOption, settings, store_from
from stillwatch.cli.output import Format, console, emit_json, rows_table
from stillwatch.errors import UsageError
from stillwatch.intel import keys
from stillwatch.intel.tlp import TLP_IDS
from stillwatch.settings import Resolved

if TYPE_CHECKING:
    from stillwatch.intel.intake import ImportResult
    from stillwatch.intel.shared import SharedCampaign

# The STIX, validator, PSI and TAXII libraries take seconds to import: each command imports
# what it uses, so the rest of the CLI does not pay for them.

intel_app = typer.Typer(
    help="Threat-intelligence sharing: STIX 2.1 bundles, TAXII 2.1, private set intersection.",
    no_args_is_help=True,
)
psi_app = typer.Typer(
    help="Count values both we and a partner flagged, revealing neither list (three files).",
    no_args_is_help=True,
)
intel_app.add_typer(psi_app, name="psi")
app.add_typer(intel_app, name="intel")

KeyOption = Annotated[
    Path | None,
    typer.Option(
        "--community-key",
        help="community key file [setting: intel_community_key, env STILLWATCH_INTEL_COMMUNITY_KEY]",
    ),
]
CampaignsOption = Annotated[
    Path | None,
    typer.Option(
        "--campaigns",
        help="campaigns from a stillwatch-shared-campaigns/1 JSON file instead of the store's",
    ),
]
ScanOption = Annotated[
    str | None, typer.Option("--scan", help="the scan whose campaigns are shared; default latest")
]
CasebookOption = Annotated[
    Path | None,
    typer.Option("--casebook", help="analysts' verdicts and allowlist [setting: casebook]"),
]
ExcludeOption = Annotated[
    Path | None,
    typer.Option(
        "--exclude", help="account ids never to share (dismissed, allowlisted), one per line"
    ),
]
TaxiiOption = Annotated[str, typer.Option("--taxii", help="the TAXII 2.1 API root URL")]
CollectionOption = Annotated[str, typer.Option("--collection", help="the collection id")]
UserOption = Annotated[
    str | None,
    typer.Option("--user", help="TAXII user; the password comes from $STILLWATCH_TAXII_PASSWORD"),
]


def _key(resolved: Resolved, path: Path | None) -> keys.CommunityKey:
    chosen = path or (Path(resolved.intel_community_key) if resolved.intel_community_key else None)
    if chosen is None:
        raise UsageError(
            "no community key: pass --community-key FILE or set intel_community_key "
            "(make one with `stillwatch intel keygen --out FILE`)"
        )
    return keys.read_key(chosen)


def _json_out(path: Path, flag: str = "--out") -> Path:
    if path.suffix.lower() != ".json":
        raise UsageError(f"{flag} {path}: a bundle is written as JSON; name the file *.json")
    if not path.parent.is_dir():
        raise UsageError(f"{flag} {path}: folder {path.parent} does not exist")
    return path


@intel_app.command("keygen")
def keygen_command(
    out: Annotated[Path, typer.Option("--out", help="where to write the key (owner-only)")],
    n_bytes: Annotated[int, typer.Option("--bytes", help="random bytes in the key")] = 32,
    force: Annotated[bool, typer.Option("--force", help="overwrite an existing file")] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Write a new community key: random bytes as hex on one line. Share it with the community
    over a channel you trust (docs/sharing.md, key exchange)."""
    key = keys.generate(n_bytes)
    keys.write_key(key, out, force=force)
    if fmt == Format.json:
        emit_json({"out": str(out), "key_id": key.key_id, "bytes": n_bytes})
    else:
        console.print(f"wrote a {n_bytes}-byte community key to {out}; key id {key.key_id}")


@intel_app.command("export")
def export_command(
    out: Annotated[Path, typer.Option("--out", help="the bundle file (*.json)")],
    tlp: Annotated[str, typer.Option("--tlp", help=f"TLP 2.0 level: {', '.join(TLP_IDS)}")],
    campaigns: CampaignsOption = None,
    campaign: Annotated[
        list[str] | None, typer.Option("--campaign", help="a campaign id to export (repeatable)")
    ] = None,
    all_campaigns: Annotated[bool, typer.Option("--all", help="export every campaign")] = False,
    community_key: KeyOption = None,
    exclude: ExcludeOption = None,
    allow_raw: Annotated[
        bool,
        typer.Option(
            "--allow-raw",
            help="also share datacenter prefixes and private mail domains raw (never residential, mobile or unknown networks)",
        ),
    ] = False,
    identity: Annotated[
        str | None,
        typer.Option("--identity", help="our name in the bundle [setting: intel_identity]"),
    ] = None,
    min_confidence: Annotated[
        int | None, typer.Option("--min-confidence", help="[setting: intel_min_confidence]")
    ] = None,
    store: StoreOption = None,
    scan_id: ScanOption = None,
    casebook: CasebookOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Write our campaigns as a STIX 2.1 bundle: keyed-hash indicators, sizes with intervals,
    TLP 2.0 marking, deterministic ids. The campaigns are the latest scan's (reported, or
    confirmed by an analyst; dismissed ones never), or those of --campaigns FILE."""
    if bool(campaign) == all_campaigns:
        raise UsageError(
            "name the campaigns to export with --campaign ID (repeatable), or pass --all"
        )
    if tlp not in TLP_IDS:
        raise UsageError(f"--tlp: expected one of {', '.join(TLP_IDS)}, got {tlp!r}")
    resolved = settings(
        intel_identity=identity, intel_min_confidence=min_confidence, store=store, casebook=casebook
    )
    if not 0 <= resolved.intel_min_confidence <= 100:
        raise UsageError(
            f"intel_min_confidence: expected 0-100, got {resolved.intel_min_confidence}"
        )
    _json_out(out)
    key = _key(resolved, community_key)
    from stillwatch.intel.bundle import ExportOptions, export_bundle
    from stillwatch.intel.indicators import SharingRules

    ours = _our_campaigns(resolved, campaigns, exclude, scan_id)
    found = ours.campaigns
    if campaign:
        known = {c.campaign_id for c in found}
        refused = [c for c in campaign if c in ours.dismissed]
        if refused:
            raise UsageError(f"--campaign: {', '.join(refused)} dismissed by analysts; not shared")
        unknown = [c for c in campaign if c not in known]
        if unknown:
            raise UsageError(
                f"--campaign: {', '.join(unknown)} not in {ours.origin}"
                + ("" if campaigns else " (its reported or analyst-confirmed campaigns)")
            )
        found = [c for c in found if c.campaign_id in set(campaign)]
    if not found:
        raise UsageError(f"nothing to export: {ours.origin} holds no campaign to share")
    rules = SharingRules(
        min_accounts=resolved.intel_min_indicator_accounts,
        max_skeletons=resolved.intel_max_skeletons,
        allow_raw=allow_raw,
    )
    options = ExportOptions(resolved.intel_identity, tlp, resolved.intel_min_confidence, rules)
    result = export_bundle(found, key, ours.excluded, options)
    out.write_text(result.serialize(), encoding="utf-8")
    payload = {
        "out": str(out), "bundle_id": result.bundle.id, "campaigns": result.campaigns,
        "indicators": result.indicators, "skipped_low_confidence": result.skipped_low_confidence,
        "tlp": tlp, "key_id": key.key_id, "raw_values": allow_raw, "from": ours.origin,
        "dismissed": ours.dismissed, "excluded_accounts": len(ours.excluded),
        "confirmed": sorted(c.campaign_id for c in found if c.confirmed),
    }  # fmt: skip
    if fmt == Format.json:
        emit_json(payload)
        return
    console.print(
        f"wrote {out}: {result.campaigns} campaign(s), {result.indicators} indicator(s), "
        f"TLP:{tlp.upper()}, key id {key.key_id}"
    )
    if ours.dismissed:
        console.print("not shared (dismissed by analysts): " + ", ".join(ours.dismissed))
    if payload["confirmed"]:
        console.print("marked analyst-confirmed: " + ", ".join(payload["confirmed"]))
    if result.skipped_low_confidence:
        console.print(
            f"not exported (confidence below {resolved.intel_min_confidence}): "
            + ", ".join(result.skipped_low_confidence)
        )


def _import_row(r: ImportResult) -> dict[str, object]:
    return {
        "source": r.source, "status": "already imported" if r.already_imported else "imported",
        "producer": r.producer, "tlp": r.tlp, "indicators": r.indicators,
        "new": r.indicators_new, "updated": r.indicators_updated, "sha256": r.content_sha256[:16],
    }  # fmt: skip


@intel_app.command("import")
def import_command(
    bundles: Annotated[list[Path], typer.Argument(help="partner bundle files")],
    community_key: KeyOption = None,
    store: StoreOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Store partners' bundles after strict validation; a bad bundle stores nothing.
    Importing the same bundle again changes nothing."""
    from stillwatch.intel.intake import import_bundle

    resolved = settings(store=store)
    key = _key(resolved, community_key)
    raws = []
    for path in bundles:
        try:
            raws.append((path, path.read_bytes()))
        except FileNotFoundError:
            raise UsageError(f"{path}: no such file") from None
        except OSError as exc:
            raise UsageError(f"{path}: unreadable: {exc}") from None
    results = []
    with store_from(resolved, create=True) as opened:
        for path, raw in raws:
            results.append(
                import_bundle(opened, raw, str(path), key, max_bytes=resolved.intel_max_bundle_bytes,
                              max_nesting=resolved.intel_max_nesting)
            )  # fmt: skip
    rows = [_import_row(r) for r in results]
    if fmt == Format.json:
        emit_json(rows)
    else:
        console.print(rows_table("bundles", rows))


@intel_app.command("match")
def match_command(
    community_key: KeyOption = None,
    min_similarity: Annotated[
        int | None,
        typer.Option("--min-similarity", help="percent [setting: intel_minhash_min_similarity]"),
    ] = None,
    store: StoreOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Which of our accounts carry partners' indicators: appended to intel_matches.
    Exit 1 when any account matches."""
    from stillwatch.intel.match import account_summary, match_indicators

    resolved = settings(store=store, intel_minhash_min_similarity=min_similarity)
    threshold = resolved.intel_minhash_min_similarity
    if not 0 < threshold <= 100:
        raise UsageError(f"intel_minhash_min_similarity: expected 1-100 percent, got {threshold}")
    key = _key(resolved, community_key)
    with store_from(resolved) as opened:
        summary = match_indicators(opened, key, threshold / 100)
    per_account = account_summary(summary.rows)
    payload = {
        "match_run_id": summary.match_run_id, "indicators_read": summary.indicators_read,
        "accounts_matched": len(per_account), "matches": len(summary.rows), "accounts": per_account,
    }  # fmt: skip
    if fmt == Format.json:
        emit_json(payload)
    else:
        console.print(
            f"{summary.match_run_id}: {summary.indicators_read} partner indicator(s) read, "
            f"{len(per_account)} account(s) matched, {len(summary.rows)} match(es)"
        )
        if per_account:
            console.print(rows_table("accounts", per_account))
    if per_account:
        raise typer.Exit(EXIT_FINDINGS)


@dataclass(frozen=True)
class _Ours:
    origin: str
    campaigns: list[SharedCampaign]
    dismissed: list[str]
    excluded: frozenset[str]


def _our_campaigns(
    resolved: Resolved, campaigns: Path | None, exclude: Path | None, scan_id: str | None
) -> _Ours:
    """Our campaigns to share: the store's (a scan's) or a file's, with the casebook's
    verdicts and allowlist and the --exclude file applied."""
    from stillwatch.engine.casebook import default_path, read_casebook
    from stillwatch.intel.shared import load_campaigns, read_exclusions
    from stillwatch.intel.stored import decide_file_campaigns, decisions_from, read_campaigns

    if campaigns is not None and scan_id is not None:
        raise UsageError("--scan names a scan of the store; it does not apply to --campaigns FILE")
    book_path = resolved.values.get("casebook") or default_path(resolved.store)
    with read_casebook(book_path) as book:
        decisions = decisions_from(book)
    excluded = read_exclusions(exclude) | decisions.excluded_accounts
    if campaigns is not None:
        kept, dismissed = decide_file_campaigns(load_campaigns(campaigns), decisions)
        return _Ours(str(campaigns), kept, dismissed, excluded)
    from stillwatch.pipeline import latest_scan

    with store_from(resolved) as opened:
        sid = scan_id or latest_scan(opened)
        stored = read_campaigns(opened, sid, decisions)
    return _Ours(f"scan {sid}", stored.campaigns, stored.dismissed, excluded)


def _flagged(
    campaigns: Path | None, exclude: Path | None, scan_id: str | None, resolved: Resolved
) -> set[str]:
    from stillwatch.intel.indicators import low_entropy_values

    ours = _our_campaigns(resolved, campaigns, exclude, scan_id)
    return low_entropy_values(ours.campaigns, ours.excluded, resolved.intel_min_indicator_accounts)


@psi_app.command("request")
def psi_request_command(
    out: Annotated[Path, typer.Option("--out", help="the request to send to the partner")],
    state: Annotated[Path, typer.Option("--state", help="our secret for step 3; never sent")],
    campaigns: CampaignsOption = None,
    exclude: ExcludeOption = None,
    store: StoreOption = None,
    scan_id: ScanOption = None,
    casebook: CasebookOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Step 1 (we learn the count): blind our flagged prefixes and domains into a request."""
    from stillwatch.intel import psi

    resolved = settings(store=store, casebook=casebook)
    n = psi.request(_flagged(campaigns, exclude, scan_id, resolved), out, state)
    if fmt == Format.json:
        emit_json({"request": str(out), "state": str(state), "items": n})
    else:
        console.print(f"wrote {out} ({n} blinded items) for the partner; keep {state} private")


@psi_app.command("respond")
def psi_respond_command(
    request: Annotated[Path, typer.Argument(help="the partner's request file")],
    out: Annotated[Path, typer.Option("--out", help="the response to send back")],
    campaigns: CampaignsOption = None,
    exclude: ExcludeOption = None,
    store: StoreOption = None,
    scan_id: ScanOption = None,
    casebook: CasebookOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Step 2 (the partner learns the count): answer a request with our flagged values."""
    from stillwatch.intel import psi

    resolved = settings(store=store, casebook=casebook)
    items = _flagged(campaigns, exclude, scan_id, resolved)
    n = psi.respond(items, request, out, resolved.intel_psi_max_items)
    if fmt == Format.json:
        emit_json({"response": str(out), "partner_items": n, "our_items": len(items)})
    else:
        console.print(f"wrote {out}: answered {n} blinded items with our {len(items)}")


@psi_app.command("count")
def psi_count_command(
    state: Annotated[Path, typer.Option("--state", help="our state from step 1")],
    response: Annotated[Path, typer.Option("--response", help="the partner's response")],
    fmt: FormatOption = Format.table,
) -> None:
    """Step 3: how many of our flagged values the partner also flagged. Exit 1 when any."""
    from stillwatch.intel import psi

    both, ours, theirs = psi.count(state, response)
    if fmt == Format.json:
        emit_json({"in_both": both, "ours": ours, "partners": theirs})
    else:
        console.print(f"{both} of our {ours} flagged value(s) are among the partner's {theirs}")
    if both:
        raise typer.Exit(EXIT_FINDINGS)


@intel_app.command("push")
def push_command(
    bundle: Annotated[Path, typer.Argument(help="a bundle file to publish")],
    taxii_url: TaxiiOption,
    collection: CollectionOption,
    user: UserOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Add a bundle's objects to a TAXII 2.1 collection."""
    from stillwatch.intel import taxii

    resolved = settings()
    try:
        raw = bundle.read_bytes()
    except OSError as exc:
        raise UsageError(f"{bundle}: unreadable: {exc}") from None
    result = taxii.push(raw, str(bundle), taxii_url, collection, user,
                        os.environ.get("STILLWATCH_TAXII_PASSWORD"),
                        max_bytes=resolved.intel_max_bundle_bytes,
                        max_nesting=resolved.intel_max_nesting)  # fmt: skip
    if fmt == Format.json:
        emit_json(result.__dict__)
    else:
        console.print(
            f"{result.url}: {result.status}, {result.added} object(s) added, "
            f"{result.failed} refused (already there), {result.pending} pending"
        )


@intel_app.command("pull")
def pull_command(
    taxii_url: TaxiiOption,
    collection: CollectionOption,
    user: UserOption = None,
    community_key: KeyOption = None,
    store: StoreOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Read a TAXII 2.1 collection and import it like a bundle file."""
    from stillwatch.intel import taxii
    from stillwatch.intel.intake import import_bundle

    resolved = settings(store=store)
    key = _key(resolved, community_key)
    raw, source = taxii.pull(
        taxii_url, collection, user, os.environ.get("STILLWATCH_TAXII_PASSWORD")
    )
    with store_from(resolved, create=True) as opened:
        result = import_bundle(opened, raw, source, key, max_bytes=resolved.intel_max_bundle_bytes,
                               max_nesting=resolved.intel_max_nesting)  # fmt: skip
    row = _import_row(result)
    if fmt == Format.json:
        emit_json(row)
    else:
        console.print(rows_table("pulled", [row]))
