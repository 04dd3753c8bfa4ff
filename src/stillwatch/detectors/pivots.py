"""Release pivots: a coordinated share of a group moving to a new model at once.

A *release* is a model first seen after the data's first day. An account *switched* when it
had traffic before the release, first used it within ``switch_hours`` of its appearance, and
sent at least ``min_switch_share`` of its next day's traffic to it. Early adopters switch too;
what stands out is a group switching together. The groups are the partners earlier
cross-account detectors proposed in this scan (shared infrastructure, synchronized timing,
registration bursts): an account scores when many of its partners active before the release
switched within ``together_hours`` of it, well above the population's own switching rate.

Catches: operators moving a campaign's traffic to a new model within a day of its release.
Known false positives: an organization whose shared SDK configuration moved all its keys at
once (its accounts are partners through shared infrastructure).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from stillwatch.detectors.base import DetectorOutput, ScanContext, check_param, ramp


class ReleasePivot:
    id = "models.release-pivot"
    version = "1"
    family = "models"
    requires = ("exchanges.model", "exchanges.ts")
    after = ("infrastructure.shared-rare", "synchrony.same-minutes", "registration.burst")
    evidence_keys = ("partners_before", "partners_switched", "share", "population_share",
                     "lag_hours")  # fmt: skip
    description = "a group of linked accounts switching to a new model together"
    false_positives = "one organization's keys moved by a shared configuration change"

    def __init__(
        self,
        switch_hours: float = 24.0,
        min_switch_share: float = 0.3,
        together_hours: float = 6.0,
        min_partners: int = 3,
    ) -> None:
        check_param("switch_hours", switch_hours, 1, 24 * 30)
        check_param("min_switch_share", min_switch_share, 0, 1)
        check_param("together_hours", together_hours, 0.1, 24 * 30)
        check_param("min_partners", min_partners, 1, 1e6, integer=True)
        self.switch_hours = switch_hours
        self.min_switch_share = min_switch_share
        self.together_hours = together_hours
        self.min_partners = min_partners

    def run(self, ctx: ScanContext) -> DetectorOutput:
        out = DetectorOutput()
        f = ctx.features
        if f.empty or "first_release_lag_hours" not in f:
            return out
        before = f.active_before_release.fillna(False).astype(bool).to_numpy()
        lag = f.first_release_lag_hours.to_numpy(dtype=np.float64, na_value=np.nan)
        share = f.release_switch_share.to_numpy(dtype=np.float64, na_value=np.nan)
        switched = before & (lag <= self.switch_hours) & (share >= self.min_switch_share)
        n_before = int(before.sum())
        if not n_before or not switched.any():
            return out
        population = float(switched.sum()) / n_before
        ids = f.account_id.tolist()
        partners: dict[int, set[int]] = defaultdict(set)
        for i, j in zip(*ctx.linked_rows(), strict=True):
            partners[int(i)].add(int(j))
            partners[int(j)].add(int(i))
        for i in sorted(np.flatnonzero(switched).tolist()):
            ps = [j for j in partners.get(i, ()) if before[j]]
            if len(ps) < self.min_partners:
                continue
            together = [
                j for j in ps if switched[j] and abs(lag[j] - lag[i]) <= self.together_hours
            ]
            s_share = len(together) / len(ps)
            score = float(ramp(s_share, population + 0.1, population + 0.5)) * float(
                ramp(len(together), 0, self.min_partners)
            )
            out.add(
                ids[i],
                score,
                {
                    "partners_before": len(ps),
                    "partners_switched": len(together),
                    "share": round(s_share, 3),
                    "population_share": round(population, 3),
                    "lag_hours": round(float(lag[i]), 2),
                },
            )
        return out
