"""``stillwatch bench perf``: the scan's stages beside DuckDB's single bare pass.

Each step runs in a fresh process (so its peak memory is its own: the resident high-water mark
of that process, interpreter included): ingest the data set into a
fresh store (reported apart), scan it (features, signals, scores timed separately), and, on
the same store, one bare DuckDB pass reading the columns the features read, grouped by
account (no features, no joins: the floor any per-account computation pays). Ratios are taken
in the same run, so the machine's load affects both sides alike. The scan's own record gives
each stage's high-water mark (``pipeline.ScanResult.peak_mb``) and the campaign stage's parts
(Leiden timed on its own).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from stillwatch.bench.dataset import has_ground_truth
from stillwatch.engine.memory import resident_mb
from stillwatch.errors import StillwatchError

# The columns the feature expressions read, each aggregated once per account.
BARE_PASS = """
SELECT account_id, count(*), min(ts), max(ts), count(DISTINCT event_id),
       count(DISTINCT model), count(DISTINCT ip), count(DISTINCT ip_hash), count(DISTINCT asn),
       count(DISTINCT user_agent), count(DISTINCT tls_fingerprint),
       count(DISTINCT ip_country), count(DISTINCT conversation_id), max(turn_index),
       sum(input_tokens), sum(output_tokens), sum(reasoning_tokens), max(max_tokens),
       sum(CAST(thinking AS INTEGER)), sum(tools_count), count(status)
FROM exchanges GROUP BY account_id
"""


# The size of the content detectors' sample (``detectors.prompts.sample_table`` at its default
# bound): each account's prompts up to 200. Counted by a plain GROUP BY, which spills; a window
# over every prompt ran out of the 1 GB limit at large scale after the scan had finished.
CONTENT_SAMPLE = """
SELECT coalesce(sum(least(n, 200)), 0) FROM (
    SELECT account_id, count(*) AS n FROM exchanges WHERE prompt IS NOT NULL GROUP BY account_id
)
"""


def _ingest(folder: str, store_path: str, memory_limit: str) -> dict[str, Any]:
    from stillwatch.engine.store import open_store
    from stillwatch.ingest import discover, ingest

    start = time.perf_counter()
    sources, _ = discover([folder])
    with open_store(store_path, memory_limit=memory_limit) as store:
        # DuckDB's progress bar writes to stdout, where --format json goes
        store.con.execute("SET enable_progress_bar = false")
        run = ingest(store, sources, batch_rows=500_000, max_text_bytes=1 << 20)
        rows = int(store.scalar("SELECT count(*) FROM exchanges"))
    _, peak = resident_mb()
    totals = run.as_dict()["totals"]
    return {"seconds": time.perf_counter() - start, "rows": rows,
            "accepted": totals["accepted"], "peak_mb": peak}  # type: ignore[index]  # fmt: skip


def _scan(store_path: str, memory_limit: str) -> dict[str, Any]:
    from stillwatch.engine.store import open_store
    from stillwatch.pipeline import scan

    start = time.perf_counter()
    with open_store(store_path, memory_limit=memory_limit) as store:
        store.con.execute("SET enable_progress_bar = false")  # stdout is --format json's
        result = scan(store, {"flag_threshold": 0.5, "rules": ""})
        seconds = time.perf_counter() - start
        summary = json.loads(
            store.scalar("SELECT summary FROM scans WHERE scan_id = ?", [result.scan_id])
        )
        # the prompts the content detectors processed: their sample (untimed)
        prompts = int(store.scalar(CONTENT_SAMPLE))
    _, peak = resident_mb()
    content = sum(v.get("seconds") or 0 for d, v in result.detectors.items()
                  if d.startswith("content.") and v["ran"])  # fmt: skip
    return {
        "content_stages": content_stages(result.detectors, prompts),
        "scan_id": result.scan_id,
        "seconds": seconds,
        "content_prompts": prompts,
        "content_seconds": content,
        "stages": result.seconds,
        "detectors": {d: v.get("seconds") for d, v in result.detectors.items() if v["ran"]},
        "accounts": result.accounts,
        "peak_mb": peak,
        "stage_peak_mb": result.peak_mb,
        "campaign_seconds": summary["campaign_seconds"],
    }


def content_stages(detectors: dict[str, Any], prompts: int) -> list[dict[str, Any]]:
    """The content detectors' seconds split into stages: the prompt tables they share
    (``sample``, ``skeletons``, ``verdicts``; each detector's ``built_tables``) and each
    detector's own work (its seconds less the tables it built), each with the sampled
    ``prompts`` per second. The stages' seconds add up to the detectors'."""
    shared: dict[str, float] = {}
    own: list[dict[str, Any]] = []
    for name, entry in detectors.items():
        if not (name.startswith("content.") and entry.get("ran")):
            continue
        built = entry.get("built_tables") or {}
        for table, seconds in built.items():
            shared[table] = shared.get(table, 0.0) + float(seconds)
        own.append({"stage": name, "seconds": max(0.0, entry["seconds"] - sum(built.values()))})
    stages = [{"stage": f"prompt table: {t}", "seconds": v} for t, v in shared.items()] + own
    for stage in stages:
        stage["prompts_per_second"] = prompts / stage["seconds"] if stage["seconds"] else None
    return stages


def _bare(store_path: str, memory_limit: str) -> dict[str, Any]:
    from stillwatch.engine.store import open_store

    with open_store(store_path, read_only=True, memory_limit=memory_limit) as store:
        store.con.execute("SET enable_progress_bar = false")  # stdout is --format json's
        start = time.perf_counter()
        groups = len(store.sql(BARE_PASS))
        seconds = time.perf_counter() - start
    _, peak = resident_mb()
    return {"seconds": seconds, "accounts": groups, "peak_mb": peak}


def _quality(folder: str, store_path: str, scan_id: str, memory_limit: str) -> dict[str, Any]:
    """The scan's flagged accounts and campaigns scored against the data set's ground truth,
    as ``bench quality`` scores them (the truth is read here, after the scan, by the bench:
    never by the scan)."""
    from stillwatch.bench.scorer import score
    from stillwatch.bench.stillwatch_method import scan_result
    from stillwatch.bench.truth import Truth
    from stillwatch.engine.store import open_store

    start = time.perf_counter()
    truth = Truth.from_folder(folder)
    with open_store(store_path, read_only=True, memory_limit=memory_limit) as store:
        store.con.execute("SET enable_progress_bar = false")
        result = scan_result(store, scan_id, truth.account_ids)
    figures = score(truth, result).as_dict()
    keep = ("accounts", "campaign_accounts", "legitimate_accounts", "flagged",
            "false_positives", "fp_per_10k", "pr_auc", "precision", "recall", "bcubed_f1",
            "ari", "operator_attribution", "true_campaigns", "campaigns_matched",
            "exchanges_relative_error", "accounts_relative_error", "first_day_error",
            "last_day_error", "campaign_sizes")  # fmt: skip
    return {**{k: figures[k] for k in keep}, "seconds": time.perf_counter() - start}


def _stdout_to_stderr() -> None:
    """A step's process writes nothing to stdout, where ``--format json`` goes: DuckDB draws
    its progress bars there from every connection (ingest's staging ones too)."""
    os.dup2(2, 1)


def _isolated(fn: Any, *args: Any) -> dict[str, Any]:
    with ProcessPoolExecutor(
        max_workers=1, mp_context=get_context("spawn"), initializer=_stdout_to_stderr
    ) as pool:
        result: dict[str, Any] = pool.submit(fn, *args).result()
        return result


# The work directory's most, per byte of the data set's Parquet: the store (about the data's
# size) and DuckDB's spill files beside it while the scan's largest queries run. Measured at
# the large scale (8.2 GB of Parquet, low-and-slow seed 1): 29.7 GB at most, 3.6x; rounded up.
DISK_PER_DATA_BYTE = 4.0


def disk_needed(folder: Path) -> int:
    """Bytes of free disk ``run_perf`` wants in its work directory for the data set in
    ``folder``."""
    data = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    return int(data * DISK_PER_DATA_BYTE)


def run_perf(folder: Path, workdir: Path, memory_limit: str) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    store = workdir / "perf.duckdb"
    for stale in (store, store.with_name(store.name + ".wal")):
        stale.unlink(missing_ok=True)
    need, free = disk_needed(folder), shutil.disk_usage(workdir).free
    if free < need:  # say so now, not when the disk fills an hour in
        raise StillwatchError(
            f"{workdir}: {free / 1e9:.1f} GB free; bench perf on {folder} needs about "
            f"{need / 1e9:.1f} GB there (the store and DuckDB's spill files, about "
            f"{DISK_PER_DATA_BYTE:g}x the data set); free space or pass --workdir on a larger disk"
        )
    ingest = _isolated(_ingest, str(folder), str(store), memory_limit)
    scanned = _isolated(_scan, str(store), memory_limit)
    bare = _isolated(_bare, str(store), memory_limit)
    quality = (
        _isolated(_quality, str(folder), str(store), scanned["scan_id"], memory_limit)
        if has_ground_truth(folder)
        else None
    )
    rows = ingest["rows"]
    stages = scanned["stages"]
    return {
        "bench": "perf",
        "data": str(folder),
        "rows": rows,
        "accounts": scanned["accounts"],
        "memory_limit": memory_limit,
        "ingest": ingest,
        "scan": scanned,
        "bare_pass": bare,
        "rows_per_second": {
            "bare_pass": rows / bare["seconds"],
            **{k: rows / v for k, v in stages.items() if v},
        },
        "ratio_to_bare_pass": {k: v / bare["seconds"] for k, v in stages.items()},
        "scan_ratio_to_bare_pass": scanned["seconds"] / bare["seconds"],
        # the scan's campaigns against the simulator's truth (None for data without it)
        "quality": quality,
        "content_prompts_per_second": (
            scanned["content_prompts"] / scanned["content_seconds"]
            if scanned["content_seconds"]
            else None
        ),
    }
