"""The baselines' defaults, chosen by a recorded sweep on development seeds only.

For each baseline, every setting of a small grid runs on every scenario with campaigns at
small scale on development seeds (1–5 by default; never the evaluation seeds 1000+). A
setting is admissible when its false positives per 10,000 legitimate accounts stay within
the cap (100) on every run; the chosen setting has the highest mean PR-AUC among the
admissible ones (the highest mean PR-AUC overall, marked, when none is admissible).

Run ``python -m stillwatch.bench.sweep [--seeds 1-5] [--methods …] [--out docs/sweep.json]``;
it prints a Markdown table per method (the one in ``docs/baselines.md``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from stillwatch.bench.methods import METHODS
from stillwatch.bench.quality import SCENARIOS as QUALITY_SCENARIOS
from stillwatch.bench.quality import ensure_dataset
from stillwatch.bench.truth import Truth

FP_CAP = 100.0
# every scenario with campaigns: the quality bench's, but look-alikes-only (nothing to find)
SCENARIOS = tuple(s for s in QUALITY_SCENARIOS if s != "look-alikes-only")
GRIDS: dict[str, dict[str, list[Any]]] = {
    "content-knn": {"prompt_chars": [200, 400, 800], "min_similarity": [0.3, 0.5]},
    "synchrotrap": {"min_similarity": [0.05, 0.1, 0.2]},
    "isolation-forest": {"threshold": [0.55, 0.6, 0.65]},
    "fraudar": {"min_density_ratio": [1.5, 2.0, 3.0]},
}
# A quicker grid (``--quick``): fewer settings of the slow methods.
QUICK: dict[str, dict[str, list[Any]]] = {
    "content-knn": {"prompt_chars": [200, 800], "min_similarity": [0.5]},
    "synchrotrap": {"min_similarity": [0.05, 0.1, 0.2]},
    "isolation-forest": {"threshold": [0.55, 0.6, 0.65]},
    "fraudar": {"min_density_ratio": [1.5, 2.0]},
}


def _method(name: str, params: dict[str, Any]) -> Any:
    from importlib import import_module

    module, _, cls = METHODS[name].partition(":")
    return getattr(import_module(module), cls)(**params)


def sweep(
    methods: list[str],
    seeds: list[int],
    data_root: Path,
    progress: Any = print,
    grids: dict[str, dict[str, list[Any]]] = GRIDS,
) -> dict[str, Any]:
    """Every grid setting of every method on every (scenario, seed): PR-AUC and FP per 10k."""
    from stillwatch.bench.dataset import Dataset
    from stillwatch.bench.scorer import score

    if any(s >= 1000 for s in seeds):
        raise SystemExit("the sweep runs on development seeds (below 1000) only")
    folders = {
        (sc, seed): ensure_dataset(data_root, sc, "small", seed)
        for sc in SCENARIOS
        for seed in seeds
    }
    out: dict[str, Any] = {
        "seeds": seeds,
        "scenarios": list(SCENARIOS),
        "fp_cap": FP_CAP,
        "grids": {m: grids[m] for m in methods},
    }
    for name in methods:
        grid = grids[name]
        rows: list[dict[str, Any]] = []
        for values in itertools.product(*grid.values()):
            params = dict(zip(grid, values, strict=True))
            runs: list[dict[str, Any]] = []
            start = time.perf_counter()
            for (sc, seed), folder in folders.items():
                figures = score(
                    Truth.from_folder(folder),
                    _method(name, params).run(Dataset.from_folder(folder)),
                )
                runs.append(
                    {
                        "scenario": sc,
                        "seed": seed,
                        "pr_auc": figures.pr_auc,
                        "fp_per_10k": figures.fp_per_10k,
                    }
                )
            pr = [float(r["pr_auc"]) for r in runs if r["pr_auc"] is not None]
            fp = [float(r["fp_per_10k"]) for r in runs if r["fp_per_10k"] is not None]
            rows.append(
                {
                    "params": params,
                    "mean_pr_auc": float(np.mean(pr)),
                    "worst_fp_per_10k": float(max(fp)),
                    "admissible": max(fp) <= FP_CAP,
                    "runs": runs,
                }
            )
            progress(
                f"{name} {params}: mean PR-AUC {rows[-1]['mean_pr_auc']:.3f}, worst FP/10k {max(fp):.1f} ({time.perf_counter() - start:.0f} s)"
            )
        ok = [r for r in rows if r["admissible"]] or rows
        best = max(ok, key=lambda r: r["mean_pr_auc"])
        best["chosen"] = True
        out[name] = rows
    return out


def markdown(result: dict[str, Any]) -> str:
    lines = []
    for name in (k for k in result if k in GRIDS):
        keys = list(result["grids"][name])
        lines.append(f"\n**{name}** (seeds {result['seeds'][0]}–{result['seeds'][-1]})\n")
        lines.append("| " + " | ".join([*keys, "mean PR-AUC", "worst FP/10k", "chosen"]) + " |")
        lines.append("|" + "---|" * (len(keys) + 3))
        for r in result[name]:
            cells = [str(r["params"][k]) for k in keys]
            mark = "**yes**" if r.get("chosen") else ("" if r["admissible"] else "over cap")
            lines.append(
                "| "
                + " | ".join(
                    [*cells, f"{r['mean_pr_auc']:.3f}", f"{r['worst_fp_per_10k']:.1f}", mark]
                )
                + " |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1-5")
    parser.add_argument("--methods", default=",".join(GRIDS))
    parser.add_argument("--data-dir", type=Path, default=Path("bench-data/quality"))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="the smaller grid")
    args = parser.parse_args()
    lo, _, hi = args.seeds.partition("-")
    seeds = list(range(int(lo), int(hi or lo) + 1))
    result = sweep(
        args.methods.split(","),
        seeds,
        args.data_dir,
        progress=lambda line: print(line, flush=True),
        grids=QUICK if args.quick else GRIDS,
    )
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(markdown(result))


if __name__ == "__main__":
    main()
