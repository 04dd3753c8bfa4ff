"""The account score: detector signals combined so that no single family of evidence, nor any
two families of the same kind, can make an account look like a campaign.

A distillation campaign is a *network* of *fraudulent accounts* *harvesting* a model's answers
(THREATS.md). Each of the three words is a group of evidence families:

- **account** — is the account itself not organic? (``account-profile``: young, unverified,
  short-lived; ``enforcement``: tied to banned accounts, registered right after a ban);
- **coordination** — is it run together with others? (``infrastructure`` shared rare values,
  ``synchrony`` same-minute activity, ``registration-burst``, ``models`` release pivots
  together, ``content-frames`` shared prompt frames, ``prompt-hashes`` the same prompts by
  hash, ``partner-intel`` a partner's shared indicators);
- **usage** — does it use the model the way harvesting does? (``rhythm`` around the clock,
  ``volume``, ``tokens``, ``conversation`` shape, ``content-elicitation`` reasoning traces,
  ``content-capability`` narrow targeting).

1. A family's score is the strongest of its detectors' scores (two detectors reading the same
   kind of evidence do not add up); a group's score is its strongest family's.
2. The account score is the geometric mean of the group scores. Every look-alike of
   THREATS.md fills at most two groups: a coding fleet is coordinated and busy around the
   clock but its accounts are old and verified; an evaluation harness says "think step by
   step" over templates but is one established account; CGNAT users share addresses and do
   nothing else alike; a synthetic-data vendor generates around the clock on one card from
   old accounts. One missing group makes the score 0.
3. Robust to which detectors ran: a skipped detector contributes nothing, never a guess. A
   group none of whose detectors could run (no ``accounts`` table: no account group) is left
   out of the mean, and the scan says so; at least two measured groups are needed for any
   score. Nothing is re-weighted toward the detectors that did run.
4. Flagged at ``score ≥ flag_threshold`` (a setting, default 0.5: every group around one
   half, or two strong and one weaker).

No model fitted to simulated ground truth is part of this. A model learned at scan time from
the user's own labels (the ``enforcements`` table, analysts' verdicts) may later re-weight
families; it is not built yet.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stillwatch.detectors.base import FAMILY_GROUPS, GROUPS

MIN_GROUPS = 2


@dataclass
class AccountScore:
    account_id: str
    score: float
    family_scores: dict[str, float]
    group_scores: dict[str, float]
    top_reasons: list[dict[str, Any]] = field(default_factory=list)

    @property
    def families(self) -> int:
        return sum(1 for v in self.family_scores.values() if v >= 0.5)


def group_scores(family_scores: dict[str, float], measured: Iterable[str]) -> dict[str, float]:
    """Each measured group's score: the strongest of its families (0 without a signal)."""
    out = {g: 0.0 for g in GROUPS if g in set(measured)}
    for family, score in family_scores.items():
        g = FAMILY_GROUPS[family]
        if g in out:
            out[g] = max(out[g], score)
    return out


def combine(groups: dict[str, float]) -> float:
    """Geometric mean of the measured groups' scores; 0 with fewer than two measured."""
    if len(groups) < MIN_GROUPS:
        return 0.0
    values = list(groups.values())
    if min(values) <= 0:
        return 0.0
    return float(np.exp(np.mean(np.log(values))))


def account_scores(
    signals: list[tuple[str, str, str, float, str]],
    accounts: list[str],
    measured_families: Iterable[str],
) -> dict[str, AccountScore]:
    """``signals``: (account_id, detector, family, score, fact sentence); ``measured_families``
    the families of the detectors that ran. Every account in ``accounts`` gets a score."""
    measured = {FAMILY_GROUPS[f] for f in measured_families}
    fam: dict[str, dict[str, float]] = defaultdict(dict)
    reasons: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for account, detector, family, score, fact in signals:
        if score > fam[account].get(family, 0.0):
            fam[account][family] = score
        reasons[account].append(
            {
                "detector": detector,
                "family": family,
                "group": FAMILY_GROUPS[family],
                "score": round(score, 3),
                "fact": fact,
            }
        )
    out = {}
    for a in accounts:
        fs = {k: round(v, 4) for k, v in sorted(fam.get(a, {}).items())}
        gs = {k: round(v, 4) for k, v in group_scores(fs, measured).items()}
        rs = sorted(reasons.get(a, []), key=lambda r: (-r["score"], r["detector"]))
        # One reason per group first, then per family, strongest first: breadth shows.
        top: list[dict[str, Any]] = []
        for key in ("group", "family"):
            seen = {r[key] for r in top}
            for r in rs:
                if r[key] not in seen and r not in top:
                    top.append(r)
                    seen.add(r[key])
        top += [r for r in rs if r not in top]
        out[a] = AccountScore(a, round(combine(gs), 6), fs, gs, top[:5])
    return out
