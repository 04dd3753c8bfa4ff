"""One scan, stage by stage: store → features → signals → account scores → links → campaigns.

``scan`` records the scan (inputs, settings, detector versions, times) in ``scans``, writes
``account_features`` and ``account_days`` (Ibis expressions run inside the store's DuckDB),
runs every registered detector whose inputs are present (the others are skipped with the
reason), writes ``signals`` and ``link_candidates``, then ``account_scores``; combines the link
candidates into the account graph (``links``), finds, judges, sizes and attributes campaigns
(``campaigns``, ``campaign_members``, ``campaign_exchanges``, ``operators``), and lets each
member's score see its campaign. Same input and settings give the same rows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa

from stillwatch.campaigns.find import AnalystInput, CampaignResult, find_campaigns
from stillwatch.detectors.base import (
    Detector,
    LinkCandidate,
    LinkColumns,
    ScanContext,
    missing_requirements,
)
from stillwatch.detectors.prompts import drop_verdicts, table_seconds
from stillwatch.detectors.prompts import release as release_prompt_tables
from stillwatch.detectors.registry import detectors as registered
from stillwatch.detectors.rules import load_rules
from stillwatch.detectors.score import ScoredAccounts
from stillwatch.detectors.words import sentence
from stillwatch.engine.memory import stage_peak_mb
from stillwatch.engine.store import Store, query_arrow, sql_literal
from stillwatch.errors import StillwatchError
from stillwatch.features import reference, threads
from stillwatch.features.account import FEATURE_COLUMNS, account_days, account_features
from stillwatch.features.infrastructure import network_days
from stillwatch.features.sources import Sources
from stillwatch.link.graph import build_links
from stillwatch.schema import CANONICAL

# the scan's network facts per account and day (``with_network_days``)
NETWORK_DAYS = "_sw_network_days"

Progress = Callable[[str], None]


@dataclass
class ScanResult:
    scan_id: str
    accounts: int
    flagged: int
    signals: int
    links: int
    detectors: dict[str, dict[str, Any]]
    seconds: dict[str, float]
    skipped: dict[str, str] = field(default_factory=dict)
    campaigns: int = 0
    edges: int = 0
    # what limited the campaign judgement (an unmeasured account group), in words
    notes: list[str] = field(default_factory=list)
    # each stage's resident high-water mark in MB (None where the OS keeps no stage mark)
    peak_mb: dict[str, float | None] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scan_id": self.scan_id,
            "accounts": self.accounts,
            "flagged": self.flagged,
            "signals": self.signals,
            "link_candidates": self.links,
            "links": self.edges,
            "campaigns": self.campaigns,
            "seconds": self.seconds,
            "detectors": self.detectors,
            "notes": self.notes,
        }


def store_inputs(store: Store) -> dict[str, Any]:
    """What a scan reads: rows per table, time span, last ingest, which columns hold data."""
    inputs: dict[str, Any] = {"rows": {}, "present": []}
    for name, table in CANONICAL.items():
        counts = ", ".join(f'count("{c}")' for c in table.names)
        row = store.sql(f"SELECT count(*), {counts} FROM {name}")[0]
        inputs["rows"][name] = int(row[0])
        inputs["present"] += [f"{name}.{c}" for c, n in zip(table.names, row[1:], strict=True) if n]
    # Partners' indicators matched to our accounts (``stillwatch intel match``): an input only
    # where a match run found any, so stores without them keep their digests.
    matched = store.scalar("SELECT count(*) FROM intel_matches")
    if matched:
        inputs["rows"]["intel_matches"] = int(matched)
    span = store.sql("SELECT min(ts), max(ts) FROM exchanges")[0]
    inputs["first_ts"] = span[0].isoformat() if span[0] else None
    inputs["last_ts"] = span[1].isoformat() if span[1] else None
    inputs["last_ingest_id"] = store.scalar("SELECT max(ingest_id) FROM ingest_runs")
    inputs["reference"] = reference.versions()
    return inputs


def detector_list(settings: dict[str, Any]) -> tuple[Detector, ...]:
    extra = [Path(p.strip()) for p in str(settings.get("rules") or "").split(",") if p.strip()]
    if not extra:
        return registered()
    known = {d.id for d in registered()}
    added = [r for r in load_rules(extra) if r.id not in known]
    return (*registered(), *added)


def _insert(store: Store, table: str, frame: pa.Table) -> None:
    cols = ", ".join(f'"{c}"' for c in frame.column_names)
    query_arrow(
        store.con,
        frame,
        "_scan_rows",
        f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _scan_rows",
    )


def campaign_stage(
    store: Store, scan_id: str, settings: dict[str, Any], analyst: AnalystInput | None = None
) -> tuple[int, CampaignResult]:
    """The stages after the account scores: the account graph (``links``), then campaigns,
    then each member's score sees its campaign. Returns the number of edges and what the
    campaign stage found (``seconds`` and ``peak_mb`` hold ``links`` too)."""
    t0 = time.perf_counter()
    n_edges = build_links(store, scan_id, top_k=int(settings.get("link_top_k", 30)))
    links_seconds = time.perf_counter() - t0
    links_peak = stage_peak_mb()
    found = find_campaigns(store, scan_id, settings, analyst or AnalystInput())
    _campaign_scores(store, scan_id, found)
    found.seconds["links"] = links_seconds
    found.peak_mb.update(
        links=links_peak, campaigns=_highest([stage_peak_mb(), *found.peak_mb.values()])
    )
    return n_edges, found


def analyst_input(book: Any) -> AnalystInput:
    """What the casebook says that the scan honours: accounts allowlisted now (an account
    entry, or an API key entry naming its account) and accounts whose latest verdict is
    ``dismissed``. ``book`` None (no casebook yet) means nothing decided."""
    if book is None:
        return AnalystInput()
    allowed = frozenset(
        e.account_id or e.entity
        for e in book.allowlisted()
        if e.entity_kind in ("account", "api_key") and (e.account_id or e.entity_kind == "account")
    )
    dismissed = frozenset(a for a, v in book.account_verdicts().items() if v.verdict == "dismissed")
    return AnalystInput(allowed, dismissed)


def _campaign_scores(store: Store, scan_id: str, found: CampaignResult) -> None:
    """An account's reported score sees its campaign and sits on the campaign threshold's
    scale (``docs/scoring.md``): a member of a reported campaign scores the largest of its own
    score, its campaign's score times its membership, and the threshold; every other account
    scores its own score capped just below the threshold. So an account is flagged exactly
    when its score reaches the threshold, and a ranking by score lists every flagged account
    first (an account's own evidence, however strong, is not a campaign). ``group_id`` names
    the campaign."""
    threshold = found.threshold.get("threshold")
    if threshold is not None:
        _flag_members(store, scan_id, found, float(threshold))
        store.con.execute(
            "UPDATE account_scores SET score = least(score, ?) WHERE scan_id = ? AND NOT flagged",
            [round(float(threshold) * BELOW_THRESHOLD, 6), scan_id],
        )


def _flag_members(store: Store, scan_id: str, found: CampaignResult, threshold: float) -> None:
    """Flag the members of reported campaigns: score at least the threshold (above)."""
    if not found.member_of:
        return
    ids = sorted(found.member_of)
    frame = pa.table(
        {
            "account_id": ids,
            "campaign_id": [found.member_of[a][0] for a in ids],
            "seen": [found.member_of[a][1] * found.member_of[a][2] for a in ids],
        }
    )
    store.con.register("_scan_members", frame)
    try:
        store.con.execute(
            "UPDATE account_scores s SET flagged = true, group_id = m.campaign_id, "
            "score = greatest(s.score, round(m.seen, 6), ?) FROM _scan_members m "
            "WHERE s.scan_id = ? AND s.account_id = m.account_id",
            [round(threshold, 6), scan_id],
        )
    finally:
        store.con.unregister("_scan_members")


# An account outside every reported campaign scores at most this share of the threshold.
BELOW_THRESHOLD = 0.999


def scan(
    store: Store,
    settings: dict[str, Any],
    progress: Progress = lambda _: None,
    only: Sequence[str] | None = None,
    analyst: AnalystInput | None = None,
) -> ScanResult:
    """Run one scan over the whole store and write its results under a new ``scan_id``."""
    started = datetime.now(UTC).replace(tzinfo=None)
    seconds: dict[str, float] = {}
    peak_mb: dict[str, float | None] = {}
    dets = [d for d in detector_list(settings) if only is None or d.id in only]
    inputs = store_inputs(store)
    if not inputs["rows"]["exchanges"] and not inputs["rows"]["accounts"]:
        raise StillwatchError(f"{store.path}: the store holds no exchanges; run stillwatch ingest")
    versions = {d.id: d.version for d in dets}
    digest = hashlib.sha256(
        json.dumps([inputs, settings, versions], sort_keys=True, default=str).encode()
    ).hexdigest()
    scan_id = f"scan-{started:%Y%m%dT%H%M%S}-{digest[:8]}"
    while store.scalar("SELECT count(*) FROM scans WHERE scan_id = ?", [scan_id]):
        scan_id += "x"
    # This process alone holds the store open for writing (DuckDB locks the file), so a scan
    # still "running" is one whose process was killed: it will never finish. Its results were
    # rolled back; say so in its row.
    store.con.execute(
        "UPDATE scans SET status = 'failed', error = ? WHERE status = 'running'",
        ["interrupted: its process ended before the scan finished (nothing of it was kept)"],
    )
    store.con.execute(
        "INSERT INTO scans (scan_id, started_at, status, inputs, inputs_digest, settings) "
        "VALUES (?, ?, 'running', ?, ?, ?)",
        [scan_id, started, json.dumps(inputs), digest, json.dumps(settings, default=str)],
    )
    present = frozenset(inputs["present"])
    report: dict[str, dict[str, Any]] = {}
    # the array work on threads (features.threads) keeps to the store's ``threads`` as DuckDB does
    duckdb_threads = int(store.scalar("SELECT current_setting('threads')"))
    try:
        with store.transaction(), threads.at_most(duckdb_threads):
            stage_peak_mb()  # each stage's mark starts with it
            t0 = time.perf_counter()
            progress("features: account_features, account_days")
            store.con.execute("SET enable_progress_bar = false")
            con = store.ibis()
            src = with_network_days(Sources.from_backend(con))
            tag = ibis.literal(scan_id, "string")
            con.insert("account_features", account_features(src).mutate(scan_id=tag))
            con.insert("account_days", account_days(src).mutate(scan_id=tag))
            seconds["features"] = time.perf_counter() - t0
            peak_mb["features"] = stage_peak_mb()
            ft = con.table("account_features")
            ft = ft.filter(ft.scan_id == scan_id).drop("scan_id")
            features = (
                ft.to_pandas().sort_values("account_id", kind="stable").reset_index(drop=True)
            )
            drop_verdicts(store.con)  # never an earlier scan's (one that failed on this connection)
            ctx = ScanContext(src, features, present, settings, features_table=ft)
            t1 = time.perf_counter()
            collected: list[tuple[str, str, str, float, str]] = []
            n_signals = n_candidates = 0
            for i, d in enumerate(dets, 1):
                reason = skip_reason(d, present)
                if reason:
                    report[d.id] = _entry(d, ran=False, reason=reason)
                    progress(f"signals {i}/{len(dets)}: {d.id} skipped ({reason})")
                    continue
                progress(f"signals {i}/{len(dets)}: {d.id}")
                ts, tables = time.perf_counter(), table_seconds(ctx)
                out = d.run(ctx)
                ctx.ran.add(d.id)
                frame = out.frame()
                facts = [sentence(d.id, e) for e in frame.evidence]
                rows = pa.table(
                    {
                        "scan_id": [scan_id] * len(frame),
                        "detector": [d.id] * len(frame),
                        "detector_version": [d.version] * len(frame),
                        "family": [d.family] * len(frame),
                        "entity_kind": ["account"] * len(frame),
                        "account_id": frame.account_id.astype(str).tolist(),
                        "score": frame.score.astype(float).tolist(),
                        "evidence": [json.dumps(e, sort_keys=True) for e in frame.evidence],
                    }
                )
                _insert(store, "signals", rows)
                _write_links(store, scan_id, out.links)
                ctx.note_links(out.links)
                n_candidates += len(out.links)
                collected += [
                    (a, d.id, d.family, float(s), f)
                    for a, s, f in zip(frame.account_id, frame.score, facts, strict=True)
                ]
                n_signals += len(frame)
                # the shared prompt tables it built on the way (its ``seconds`` hold them)
                built = {k: round(v - tables.get(k, 0.0), 3)
                         for k, v in table_seconds(ctx).items() if v > tables.get(k, 0.0)}  # fmt: skip
                report[d.id] = _entry(
                    d, ran=True, signals=len(frame), links=len(out.links),
                    seconds=round(time.perf_counter() - ts, 3), peak_mb=stage_peak_mb(),
                    **({"built_tables": built} if built else {}),
                )  # fmt: skip
                del out, frame, facts, rows  # in the store now; not held through the next one
            release_prompt_tables(ctx)
            store.con.execute(f"DROP TABLE IF EXISTS {NETWORK_DAYS}")
            seconds["signals"] = time.perf_counter() - t1
            peak_mb["signals"] = _highest(
                [stage_peak_mb(), *(v.get("peak_mb") for v in report.values())]
            )
            t2 = time.perf_counter()
            progress("account scores")
            accounts = features.account_id.tolist()
            ran = [report[d.id]["family"] for d in dets if report[d.id]["ran"]]
            scored = ScoredAccounts.of(collected, accounts, ran)
            _insert(store, "account_scores", _score_rows(scan_id, scored))
            seconds["scores"] = time.perf_counter() - t2
            # What the signals stage held in Python (every signal with its sentence, the linked
            # pairs, the features frame) is in the store now; the campaign stage reads it
            # from there. Let it go before the graph is built.
            n_accounts = len(accounts)
            del ctx, collected, scored, features, accounts
            peak_mb["scores"] = stage_peak_mb()
            t3 = time.perf_counter()
            progress("links and campaigns: the account graph, cluster, judge, size, attribute")
            n_edges, found = campaign_stage(store, scan_id, settings, analyst)
            drop_verdicts(store.con)
            seconds["links"] = found.seconds.pop("links")
            seconds["campaigns"] = time.perf_counter() - t3 - seconds["links"]
            peak_mb.update(found.peak_mb)
            flagged = sorted(found.member_of)
    except BaseException as exc:
        store.con.execute(
            "UPDATE scans SET status = 'failed', finished_at = ?, error = ?, detectors = ? "
            "WHERE scan_id = ?",
            [_now(), f"{type(exc).__name__}: {exc}".splitlines()[0], json.dumps(report), scan_id],
        )
        raise
    summary = {
        "accounts": n_accounts,
        "flagged": len(flagged),
        "campaigns": found.reported,
        "candidates": found.candidates,
        "operators": found.operators,
        "threshold": found.threshold,
        "notes": found.notes,
        "links": n_edges,
        "campaign_seconds": {k: round(v, 3) for k, v in found.seconds.items()},
        "signals": n_signals,
        "link_candidates": n_candidates,
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "peak_mb": peak_mb,
    }
    store.con.execute(
        "UPDATE scans SET status = 'done', finished_at = ?, detectors = ?, summary = ? "
        "WHERE scan_id = ?",
        [_now(), json.dumps(report), json.dumps(summary), scan_id],
    )
    return ScanResult(
        scan_id,
        n_accounts,
        len(flagged),
        n_signals,
        n_candidates,
        report,
        {k: round(v, 3) for k, v in seconds.items()},
        {k: v["reason"] for k, v in report.items() if not v["ran"]},
        campaigns=found.reported,
        edges=n_edges,
        notes=list(found.notes),
        peak_mb=peak_mb,
    )


def _score_rows(scan_id: str, scored: ScoredAccounts) -> pa.Table:
    """The ``account_scores`` rows; an account without a signal has the same empty facts as
    every other such account, written from one string."""
    none_groups = json.dumps({g: 0.0 for g in scored.measured})
    groups = [json.dumps(g) if g else none_groups for g in scored.groups]
    n = len(scored.accounts)
    return pa.table(
        {
            "scan_id": [scan_id] * n,
            "account_id": scored.accounts,
            "score": scored.score,
            "flagged": [False] * n,
            "families": scored.families,
            "family_scores": [json.dumps(f) if f else "{}" for f in scored.family_scores],
            "group_scores": groups,
            "top_reasons": [json.dumps(r) if r else "[]" for r in scored.top_reasons],
            "group_id": [None] * n,
        }
    )


def with_network_days(src: Sources) -> Sources:
    """``src`` with its network facts per account and day worked out once, as a temp table
    the features, the daily window and the shared-infrastructure detector read (each would
    otherwise group the whole traffic again)."""
    backend = src.exchanges._find_backend()
    backend.raw_sql(f"DROP TABLE IF EXISTS {NETWORK_DAYS}")
    backend.create_table(NETWORK_DAYS, network_days(src), temp=True)
    return dataclasses.replace(src, network_days=backend.table(NETWORK_DAYS))


def _highest(marks: Sequence[float | None]) -> float | None:
    known = [m for m in marks if m is not None]
    return max(known) if known else None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def skip_reason(d: Detector, present: frozenset[str]) -> str | None:
    missing = missing_requirements(d.requires, present)
    if missing:
        return "no data in " + ", ".join(m.replace("|", " or ") for m in missing)
    unavailable = getattr(d, "unavailable", None)
    return unavailable() if unavailable else None


def _entry(d: Detector, ran: bool, **extra: Any) -> dict[str, Any]:
    return {"version": d.version, "family": d.family, "ran": ran, **extra}


def _write_links(store: Store, scan_id: str, links: Sequence[LinkCandidate] | LinkColumns) -> None:
    """One row per end of each link, ``a``'s row then ``b``'s, built column by column."""
    if not len(links):
        return
    if isinstance(links, LinkColumns):
        _write_link_columns(store, scan_id, links)
        return
    n = len(links)
    ends = pa.table(
        {
            "scan_id": pa.repeat(scan_id, n),
            "link_id": [link.link_id for link in links],
            "detector": [link.detector for link in links],
            "link_type": [link.link_type for link in links],
            "weight": pa.array([float(link.weight) for link in links], pa.float64()),
            "evidence": [json.dumps(link.evidence, sort_keys=True) for link in links],
        }
    )
    a = ends.append_column("account_id", pa.array([link.a for link in links], pa.string()))
    b = ends.append_column("account_id", pa.array([link.b for link in links], pa.string()))
    del ends
    both = pa.concat_tables([a, b])
    del a, b
    _insert(store, "link_candidates", both.take(np.arange(2 * n).reshape(2, n).T.ravel()))


def _write_link_columns(store: Store, scan_id: str, links: LinkColumns) -> None:
    """As :func:`_write_links`, with the link ids (:attr:`LinkCandidate.link_id`) and the
    evidence's JSON made by the store, a column at a time (the evidence's keys sorted, as
    ``json.dumps(sort_keys=True)`` writes them; its text without blanks)."""
    keys = sorted(links.evidence)
    columns: dict[str, Any] = {"a": links.a.astype(str), "b": links.b.astype(str),
                               "weight": np.asarray(links.weight, np.float64)}  # fmt: skip
    columns.update({f"e{i}": links.evidence[k] for i, k in enumerate(keys)})
    facts = ", ".join(f"{json.dumps(k)} := e{i}" for i, k in enumerate(keys))
    scan, detector = sql_literal(scan_id), sql_literal(links.detector)
    if isinstance(links.link_type, str):
        link_type = sql_literal(links.link_type)
    else:
        columns["link_type"], link_type = links.link_type.astype(str), "link_type"
    query_arrow(
        store.con,
        pa.table(columns),
        "_scan_links",
        f"""
        INSERT INTO link_candidates
        SELECT {scan}, substr(sha256({detector} || chr(0) || least(a, b) || chr(0) ||
                                     greatest(a, b)), 1, 20),
               {detector}, {link_type}, unnest([a, b]), weight,
               {f"to_json(struct_pack({facts}))" if keys else "'{}'"}
        FROM _scan_links
        """,
    )


def latest_scan(store: Store) -> str:
    scan_id = store.scalar(
        "SELECT scan_id FROM scans WHERE status = 'done' ORDER BY finished_at DESC LIMIT 1"
    )
    if scan_id is None:
        raise StillwatchError(f"{store.path}: no finished scan; run stillwatch scan first")
    return str(scan_id)


def feature_frame(store: Store, scan_id: str) -> pd.DataFrame:
    cols = ", ".join(f'"{c}"' for c in FEATURE_COLUMNS)
    return store.con.execute(
        f"SELECT account_id, {cols} FROM account_features WHERE scan_id = ?", [scan_id]
    ).df()
