"""The recorded sweep behind the campaign stage's settings, on development seeds only.

    python -m stillwatch.bench.campaign_sweep --scenarios hydra-loud,proxy-mixed \\
        --seeds 1-3 --grid campaign_min_score=0.45,0.55 --out sweep.json

For each (scenario, seed) it simulates the data set at ``--scale`` (small by default; medium
takes about 15 minutes a data set to simulate and scan the first time) or reuses it, as
``bench quality`` does, under ``--data-dir``; ingests it and runs one full scan, kept beside
the data set (``scan.duckdb``; rebuilt when the detectors' versions change). Then, for every
combination of the ``--grid`` settings, it re-runs only the link and campaign stages on a copy
of that store and scores the campaigns with the bench's scorer. It prints, per combination, the
worst figure over the seeds of each scenario, and over all seeds the share of campaigns whose
exchanges and accounts intervals hold the truth and the intervals' median relative half-width.

Seeds of 1000 and above are refused: evaluation seeds only report (METRICS.md).
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

from stillwatch.bench.quality import ensure_dataset

FIGURES = ("precision", "recall", "fp_per_10k", "bcubed_f1", "operator_attribution",
           "exchanges_relative_error", "accounts_relative_error", "first_day_error",
           "last_day_error")  # fmt: skip
LOWER_IS_BETTER = {"fp_per_10k", "exchanges_relative_error", "accounts_relative_error",
                   "first_day_error", "last_day_error"}  # fmt: skip


def scanned_store(folder: Path) -> Path:
    """A store holding the data set and one full scan at default settings (cached)."""
    from stillwatch.detectors.registry import detectors
    from stillwatch.engine.store import open_store
    from stillwatch.ingest import discover, ingest
    from stillwatch.pipeline import scan

    versions = json.dumps({d.id: d.version for d in detectors()}, sort_keys=True)
    path, mark = folder / "scan.duckdb", folder / "scan-detectors.json"
    if path.exists() and mark.exists() and mark.read_text() == versions:
        return path
    path.unlink(missing_ok=True)
    Path(str(path) + ".wal").unlink(missing_ok=True)
    # the mark goes too: ingest reads the folder, and a file that names no table is refused
    mark.unlink(missing_ok=True)
    with open_store(path, memory_limit="2GB") as store:
        ingest(store, discover([str(folder)])[0], batch_rows=500_000, max_text_bytes=1 << 20)
        scan(store, {"flag_threshold": 0.5, "rules": ""})
    mark.write_text(versions)
    return path


def campaigns_with(store_path: Path, settings: dict[str, Any]) -> Any:
    """Re-run the link and campaign stages on a copy of the store; the campaigns as the bench
    method reports them, and the account scores."""
    import numpy as np

    from stillwatch.bench.stillwatch_method import scan_result
    from stillwatch.engine.campaign_tables import CAMPAIGN_RESULT_TABLES
    from stillwatch.engine.store import open_store
    from stillwatch.pipeline import campaign_stage, latest_scan

    with tempfile.TemporaryDirectory(prefix="stillwatch-sweep-") as tmp:
        copy = Path(tmp) / "s.duckdb"
        shutil.copy(store_path, copy)
        with open_store(copy, memory_limit="2GB") as store:
            scan_id = latest_scan(store)
            for table in CAMPAIGN_RESULT_TABLES:
                store.con.execute(f"DELETE FROM {table}")
            store.con.execute(
                "UPDATE account_scores SET flagged = false, group_id = NULL WHERE scan_id = ?",
                [scan_id],
            )
            keep_frame_holders(store, settings)
            campaign_stage(store, scan_id, settings)
            ids = store.sql("SELECT account_id FROM account_scores WHERE scan_id = ?", [scan_id])
            return scan_result(store, scan_id, np.array([r[0] for r in ids], dtype=object))


def keep_frame_holders(store: Any, settings: dict[str, Any]) -> None:
    """What the frames detector keeps for the campaign stage's size (its frame holders, a temp
    table of the scan's connection), made again on this connection: the campaign stage runs
    here without the signals stage before it."""
    import pandas as pd

    from stillwatch.detectors.base import ScanContext
    from stillwatch.detectors.prompts import release
    from stillwatch.detectors.registry import detectors
    from stillwatch.features.sources import Sources
    from stillwatch.pipeline import skip_reason, store_inputs

    present = frozenset(store_inputs(store)["present"])
    frames = [d for d in detectors() if d.id == "content.shared-frames"]
    if not frames or skip_reason(frames[0], present):
        return
    ctx = ScanContext(Sources.from_backend(store.ibis()), pd.DataFrame(), present, settings)
    frames[0].run(ctx)
    release(ctx)


def parse_grid(items: list[str]) -> list[dict[str, Any]]:
    axes = []
    for item in items:
        name, _, values = item.partition("=")
        axes.append([(name, float(v) if "." in v else int(v)) for v in values.split(",")])
    return [dict(combo) for combo in itertools.product(*axes)] if axes else [{}]


def parse_seeds(text: str) -> list[int]:
    seeds: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        seeds += list(range(int(lo), int(hi or lo) + 1))
    if any(s >= 1000 for s in seeds):
        raise SystemExit(
            "campaign_sweep: seeds of 1000 and above are evaluation seeds; tune on 1-99"
        )
    return seeds


def main(argv: list[str] | None = None) -> None:
    from stillwatch.bench.scorer import score
    from stillwatch.bench.truth import Truth
    from stillwatch.settings import BY_NAME

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenarios", default="hydra-loud,low-and-slow,proxy-mixed,release-pivot,"
                   "multi-operator,evasive,look-alikes-only,bought-accounts")  # fmt: skip
    p.add_argument("--seeds", default="1-3")
    p.add_argument("--scale", default="small", choices=("small", "medium"))
    p.add_argument("--grid", nargs="*", default=[], help="setting=v1,v2 (repeat per setting)")
    p.add_argument("--data-dir", type=Path, default=Path("bench-data/quality"))
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    seeds = parse_seeds(args.seeds)
    defaults = {n: BY_NAME[n].default for n in BY_NAME if n.startswith(("campaign_", "link_"))}
    records = []
    for scenario in args.scenarios.split(","):
        for seed in seeds:
            folder = ensure_dataset(args.data_dir, scenario, args.scale, seed)
            store = scanned_store(folder)
            truth = Truth.from_folder(folder)
            for combo in parse_grid(args.grid):
                settings = {**defaults, **combo}
                figures = score(truth, campaigns_with(store, settings))
                records.append({"scenario": scenario, "seed": seed, "settings": combo,
                                "figures": {f: getattr(figures, f) for f in FIGURES},
                                "flagged": figures.flagged,
                                "sizes": [s.__dict__ for s in figures.campaign_sizes]})  # fmt: skip
                print(json.dumps(records[-1]["figures"] | {"scenario": scenario, "seed": seed,
                                 **combo}, default=str), flush=True)  # fmt: skip
    summary = summarize(records)
    for line in summary["lines"]:
        print(line)
    if args.out:
        args.out.write_text(json.dumps({"records": records, "summary": summary}, indent=2,
                                       default=str))  # fmt: skip


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Worst of the seeds per scenario and combination; interval coverage and half-widths
    over every matched campaign."""
    lines, table = [], []
    combos = {json.dumps(r["settings"], sort_keys=True) for r in records}
    for combo in sorted(combos):
        rs = [r for r in records if json.dumps(r["settings"], sort_keys=True) == combo]
        lines.append(f"settings {combo}")
        for scenario in sorted({r["scenario"] for r in rs}):
            worst = {}
            for f in FIGURES:
                vals = [r["figures"][f] for r in rs if r["scenario"] == scenario
                        and r["figures"][f] is not None]  # fmt: skip
                if vals:
                    worst[f] = max(vals) if f in LOWER_IS_BETTER else min(vals)
            flagged = max(r["flagged"] for r in rs if r["scenario"] == scenario)
            lines.append(f"  {scenario:<17} " + " ".join(
                f"{k}={v:.3f}" for k, v in worst.items()) + f" flagged≤{flagged}")  # fmt: skip
            table.append({"settings": combo, "scenario": scenario, **worst})
        sizes = [s for r in rs for s in r["sizes"] if s["matched"]]
        if sizes:
            ex_cov = sum(1 for s in sizes if s["covered"]) / len(sizes)
            acc = [s for s in sizes if s["accounts_covered"] is not None]
            acc_cov = sum(1 for s in acc if s["accounts_covered"]) / max(len(acc), 1)
            ex_w = statistics.median(s["exchanges_half_width"] or 0 for s in sizes)
            acc_w = statistics.median(s["accounts_half_width"] or 0 for s in acc) if acc else 0
            lines.append(
                f"  intervals over {len(sizes)} campaigns: exchanges cover {ex_cov:.2f} "
                f"(median half-width {ex_w:.3f}), accounts cover {acc_cov:.2f} "
                f"(median half-width {acc_w:.3f})"
            )
    return {"lines": lines, "table": table}


if __name__ == "__main__":
    main()
