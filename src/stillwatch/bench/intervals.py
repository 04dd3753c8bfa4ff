"""``stillwatch bench intervals``: calibrate the campaign size intervals on saved bench runs.

A campaign's accounts interval runs from its members without the loosely tied ones to its
members with the accounts outside that may belong; its exchanges interval from bootstrap
resamples of the members. Neither sees the campaign accounts the account graph misses
entirely (an account used for a day that shares nothing rare), nor the error of the resold
share the exchange classifier removes. Two settings widen them:

- ``campaign_unseen_share`` ``m``: accounts ``[⌊low·(1 − m)⌋, ⌈high·(1 + m)⌉]``, and the
  exchanges interval by the same factors;
- ``campaign_mixture_margin`` ``κ``: the exchanges interval reaches ``κ`` times the members'
  exchanges judged not the campaign's (``member exchanges − estimate``) further each way.

This is split-conformal calibration: on development runs scanned with both at 0 (``bench
quality --methods stillwatch@raw-intervals --save``), every grid point's coverage and median relative half-width are computed
from the saved raw intervals, per scenario; the choice is the narrowest point (the smallest
widest median half-width over scenarios and both intervals; ties: smaller ``m``, then ``κ``)
at which every scenario's intervals cover the truth in at least ``target`` of its campaigns. It
holds for new data as far as new campaigns resemble the calibration ones (exchangeability):
report coverage on other seeds, never on the calibration ones.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

from stillwatch.bench.methods import RAW_INTERVALS

UNSEEN = (0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1)
MIXTURE = (0.0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3)
TARGET = 0.9
MARGINS = ("campaign_unseen_share", "campaign_mixture_margin")


def campaigns(paths: list[Path]) -> dict[str, list[dict[str, Any]]]:
    """Per scenario, the matched campaigns of the ``stillwatch`` runs saved in ``paths``."""
    out: dict[str, list[dict[str, Any]]] = {}
    for path in paths:
        saved = json.loads(path.read_text())
        raw = []
        for name, method in saved["settings"]["methods"].items():
            settings = method.get("params", {}).get("settings", {})
            margins = [settings.get(k, 0.0) for k in MARGINS]
            if name.startswith("stillwatch") and "~" not in name and not any(margins):
                raw.append(name)
        if not raw:
            raise ValueError(
                f"{path}: no stillwatch run with unwidened intervals; save one with "
                f"--methods {RAW_INTERVALS}"
            )
        for scenario in saved["scenarios"]:
            for run in scenario["runs"]:
                if run["method"] not in raw:
                    continue
                for c in run["figures"].get("campaign_sizes") or []:
                    if c.get("matched") and c.get("accounts_interval") is not None:
                        out.setdefault(scenario["scenario"], []).append({**c, "seed": run["seed"]})
    return out


def widen(c: dict[str, Any], m: float, k: float) -> tuple[tuple[int, int], tuple[int, int]]:
    """Campaign ``c``'s (exchanges, accounts) intervals at ``m`` and ``k``, as the scan
    computes them (``campaigns.find._sizes``)."""
    n = c["estimated_accounts"]
    a_lo, a_hi = c["accounts_interval"]
    e_lo, e_hi = c["exchanges_interval"]
    lo = math.floor(a_lo * (1 - m))
    hi = math.ceil(a_hi * (1 + m))
    mix = k * max(0.0, float(c.get("member_exchanges") or 0) - c["estimated_exchanges"])
    low_ex = max(0, math.floor(e_lo * (1 - m) - mix)) if n else e_lo
    high_ex = math.ceil(e_hi * (1 + m) + mix)
    return (low_ex, high_ex), (lo, hi)


def score(found: list[dict[str, Any]], m: float, k: float) -> dict[str, float]:
    """Coverage and median relative half-width of both intervals over ``found``."""
    cover_ex, cover_acc, half_ex, half_acc = [], [], [], []
    for c in found:
        (e_lo, e_hi), (a_lo, a_hi) = widen(c, m, k)
        cover_ex.append(e_lo <= c["true_exchanges"] <= e_hi)
        cover_acc.append(a_lo <= c["true_accounts"] <= a_hi)
        half_ex.append((e_hi - e_lo) / 2 / max(c["estimated_exchanges"], 1))
        half_acc.append((a_hi - a_lo) / 2 / max(c["estimated_accounts"], 1))
    return {
        "campaigns": len(found),
        "exchanges_covered": sum(cover_ex) / len(found),
        "accounts_covered": sum(cover_acc) / len(found),
        "exchanges_half_width": statistics.median(half_ex),
        "accounts_half_width": statistics.median(half_acc),
    }


def calibrate(paths: list[Path], target: float = TARGET) -> dict[str, Any]:
    """Every grid point's figures per scenario, and the chosen point."""
    found = campaigns(paths)
    if not found:
        raise ValueError("no matched stillwatch campaign with raw intervals in the saved runs")
    grid = []
    best: tuple[float, float, float] | None = None
    for m in UNSEEN:
        for k in MIXTURE:
            per = {s: score(cs, m, k) for s, cs in sorted(found.items())}
            ok = all(
                p["exchanges_covered"] >= target and p["accounts_covered"] >= target
                for p in per.values()
            )
            widest = max(max(p["exchanges_half_width"], p["accounts_half_width"])
                         for p in per.values())  # fmt: skip
            grid.append({"unseen_share": m, "mixture_margin": k, "meets": ok,
                         "widest_half_width": widest, "scenarios": per})  # fmt: skip
            if ok and (best is None or (widest, m, k) < best):
                best = (widest, m, k)
    chosen = None if best is None else {"unseen_share": best[1], "mixture_margin": best[2]}
    return {"target": target, "files": [str(p) for p in paths], "grid": grid, "chosen": chosen}
