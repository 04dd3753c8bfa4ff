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

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

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
    scored = ScoredAccounts.of(signals, accounts, measured_families)
    return {a: scored.account(i) for i, a in enumerate(accounts)}


@dataclass
class ScoredAccounts:
    """Every account's score, worked out over all the signals at once: the scores and family
    counts as arrays, the family and group scores and top reasons as lists (``None`` for an
    account without a signal, whose family scores are empty, group scores 0 and reasons
    none). A large scan holds a million accounts and two million signals; only the accounts
    with a signal pass through Python, once each."""

    accounts: list[str]
    measured: list[str]
    score: np.ndarray
    families: np.ndarray
    family_scores: list[dict[str, float] | None]
    groups: list[dict[str, float] | None]
    top_reasons: list[list[dict[str, Any]] | None]

    @classmethod
    def of(
        cls,
        signals: list[tuple[str, str, str, float, str]],
        accounts: list[str],
        measured_families: Iterable[str],
    ) -> ScoredAccounts:
        groups = {FAMILY_GROUPS[f] for f in measured_families}
        measured = [g for g in GROUPS if g in groups]
        n = len(accounts)
        out = cls(accounts, measured, np.zeros(n), np.zeros(n, np.int64), [None] * n, [None] * n,
                  [None] * n)  # fmt: skip
        if not signals:
            return out
        account, detector, family, value, fact = (list(c) for c in zip(*signals, strict=True))
        row = pd.Index(accounts).get_indexer(pd.Index(account))
        kept = np.flatnonzero(row >= 0)  # signals of accounts not listed count for nothing
        s3 = np.array([round(v, 3) for v in value])
        # each account's reasons strongest first (then by detector, then as they came)
        det = pd.Categorical(detector)
        by = kept[np.lexsort((kept, det.codes[kept], -s3[kept], row[kept]))]
        rows = row[by]
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        ends = np.r_[starts[1:], len(by)]
        score = np.asarray(value, dtype=np.float64)
        for i, lo, hi in zip(rows[starts].tolist(), starts.tolist(), ends.tolist(), strict=True):
            mine = by[lo:hi].tolist()
            best: dict[str, float] = {}
            for k in mine:
                f, v = family[k], score[k]
                if v > best.get(f, 0.0):
                    best[f] = float(v)
            fs = {f: round(v, 4) for f, v in sorted(best.items())}
            out.family_scores[i] = fs
            if fs:
                out.groups[i] = {g: round(v, 4) for g, v in group_scores(fs, measured).items()}
                out.families[i] = sum(1 for v in fs.values() if v >= 0.5)
            reasons = [(detector[k], family[k], FAMILY_GROUPS[family[k]], float(s3[k]), fact[k])
                       for k in mine]  # fmt: skip
            out.top_reasons[i] = [
                {"detector": d, "family": f, "group": g, "score": v, "fact": t}
                for d, f, g, v, t in _top(reasons)
            ]
        out._combine()
        return out

    def _combine(self) -> None:
        """The geometric mean of the measured groups' scores, for every account with a family
        score (the others keep 0)."""
        at = [i for i, g in enumerate(self.groups) if g]
        if len(self.measured) < MIN_GROUPS or not at:
            return
        table = np.array([list(g.values()) for g in self.groups if g])
        whole = table.min(axis=1) > 0
        means = np.exp(np.mean(np.log(table[whole]), axis=1))
        for i, m in zip(np.asarray(at)[whole].tolist(), means.tolist(), strict=True):
            self.score[i] = round(m, 6)

    def group_scores(self, i: int) -> dict[str, float]:
        """Account ``i``'s group scores (0 for a group without a signal)."""
        return dict(self.groups[i] or {g: 0.0 for g in self.measured})

    def account(self, i: int) -> AccountScore:
        return AccountScore(
            self.accounts[i], float(self.score[i]), dict(self.family_scores[i] or {}),
            self.group_scores(i), list(self.top_reasons[i] or []),
        )  # fmt: skip


def _top(reasons: list[tuple[str, str, str, float, str]]) -> list[tuple[str, str, str, float, str]]:
    """The five reasons shown, from an account's reasons strongest first (detector, family,
    group, score, fact): one per group first, then one per family, then the strongest left:
    breadth shows."""
    top: list[tuple[str, str, str, float, str]] = []
    for key in (2, 1):
        seen = {r[key] for r in top}
        for r in reasons:
            if r[key] not in seen and r not in top:
                top.append(r)
                seen.add(r[key])
    top += [r for r in reasons if r not in top]
    return top[:5]
