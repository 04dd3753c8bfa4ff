"""Registration bursts: many accounts registered close together through the same onboarding
path, from the same signup network, on the same card or the same non-public e-mail domain,
young and unverified.

For each such key, an account's burst is the accounts with the same key registered within
``window_hours`` around it. Its surprise is measured against that key's own usual rate: the
registrations with the same key in the ``baseline_days`` around it, spread evenly, give the
expected count λ; the burst's Poisson tail probability P(X ≥ burst | λ) is the surprise
(``-log10 p`` from ``surprise_from`` to ``surprise_to`` ramps 0 → 1). The score is the
surprise times the share of the burst's accounts that are unverified.

Catches: batch sign-ups of throwaway accounts through lightly checked programs. Known false
positives: a class enrolling in one lecture (education path, one campus network), a
company provisioning its team in one afternoon (verified accounts weigh little), launch-day
spikes on the self-serve path (the path's own rate absorbs them).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import poisson

from stillwatch.detectors.base import (
    DetectorOutput,
    LinkCandidate,
    LinkColumns,
    ScanContext,
    check_param,
    ramp,
    rounded,
)
from stillwatch.detectors.pairs import top_k_mask
from stillwatch.features.registration import registrations

KEYS = ("signup_path", "signup_prefix", "payment_fingerprint", "email_domain")
# A burst: the registrations within WINDOW_HOURS around an account, against the rate of the
# BASELINE_DAYS around it; -log10 of its Poisson tail from SURPRISE_FROM to SURPRISE_TO ramps
# 0 -> 1 (the campaign stage asks the same of an account registered in a campaign's burst).
WINDOW_HOURS = 3.0
BASELINE_DAYS = 14.0
SURPRISE_FROM = 3.0
SURPRISE_TO = 10.0


def surprise(count: np.ndarray | int, lam: np.ndarray | float) -> np.ndarray:
    """-log10 of the Poisson tail P(X >= count | lam): how unlikely that many registrations
    are at the usual rate."""
    p = poisson.sf(np.asarray(count) - 1, lam)
    return -np.log10(np.maximum(p, 1e-300))


class RegistrationBurst:
    id = "registration.burst"
    version = "1"
    family = "registration-burst"
    requires = ("accounts.created_at",)
    evidence_keys = ("key", "value", "burst", "expected", "window_hours", "unverified_share")
    description = "many young, unverified accounts registered together on one path/network/card"
    false_positives = "a class enrolling together, a team provisioned in an afternoon"

    def __init__(
        self,
        window_hours: float = WINDOW_HOURS,
        baseline_days: float = BASELINE_DAYS,
        min_burst: int = 5,
        surprise_from: float = SURPRISE_FROM,
        surprise_to: float = SURPRISE_TO,
        max_group: int = 200,
        top_k: int = 20,
    ) -> None:
        check_param("window_hours", window_hours, 0.1, 24 * 30)
        check_param("baseline_days", baseline_days, 1, 3650)
        check_param("min_burst", min_burst, 2, 1e9, integer=True)
        check_param("surprise_from", surprise_from, 0, 1000)
        check_param("surprise_to", surprise_to, 0, 1000)
        if surprise_to <= surprise_from:
            raise ValueError(
                f"surprise_to must exceed surprise_from; got {surprise_to} <= {surprise_from}"
            )
        check_param("max_group", max_group, 2, 1e9, integer=True)
        check_param("top_k", top_k, 1, 10_000, integer=True)
        self.window_hours = window_hours
        self.baseline_days = baseline_days
        self.min_burst = min_burst
        self.surprise_from = surprise_from
        self.surprise_to = surprise_to
        self.max_group = max_group
        self.top_k = top_k

    def run(self, ctx: ScanContext) -> DetectorOutput:
        out = DetectorOutput()
        reg = registrations(ctx.sources)
        df = reg.filter(reg.created_at.notnull()).to_pandas()
        if df.empty:
            return out
        df["email_domain"] = df.email_domain.where(df.email_domain_kind == "other")
        df["t"] = (pd.to_datetime(df.created_at) - pd.Timestamp(0)) / pd.Timedelta(hours=1)
        unverified = (df.verified == False).to_numpy()  # noqa: E712 - NULL is not unverified
        # accounts numbered in id order, for the links
        df["code"], ids = pd.factorize(df.account_id.astype(str), sort=True)
        accounts = np.asarray(ids, dtype=object)
        # the scored accounts' bursts, a frame per key, in the order found
        found: list[pd.DataFrame] = []
        # the bursts that link their accounts: each one's account codes, and its score, key,
        # value and size, in the order found
        linking: list[np.ndarray] = []
        facts: list[tuple[float, str, str, int]] = []
        half = self.window_hours / 2
        base_half = self.baseline_days * 12
        for key in KEYS:
            # one sort by value, time and id, then each value's run of rows (a pandas sort per
            # value took most of a medium scan's time here)
            sub = df[df[key].notna()].sort_values([key, "t", "account_id"], kind="stable")
            if sub.empty:
                continue
            values = sub[key].astype(str).to_numpy(dtype=object)
            starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
            ends = np.r_[starts[1:], len(sub)]
            t_all, codes_all = sub.t.to_numpy(), sub.code.to_numpy()
            # each row's burst [lo, hi) and baseline [blo, bhi): the rows of its value's run
            # within half a window (a baseline) of it; none in runs too short for a burst
            lo, hi, blo, bhi = (np.arange(len(sub)) for _ in range(4))
            for start, end in zip(starts, ends, strict=True):
                if end - start < self.min_burst:
                    continue
                t = t_all[start:end]
                lo[start:end] = start + np.searchsorted(t, t - half, "left")
                hi[start:end] = start + np.searchsorted(t, t + half, "right")
                blo[start:end] = start + np.searchsorted(t, t - base_half, "left")
                bhi[start:end] = start + np.searchsorted(t, t + base_half, "right")
            k = np.flatnonzero(hi - lo >= self.min_burst)
            lo, hi, burst = lo[k], hi[k], hi[k] - lo[k]
            lam = np.maximum((bhi[k] - blo[k]) * self.window_hours / (2 * base_half), 1e-3)
            # Rate of everyone else on this key: the burst itself is not its own baseline.
            lam = np.maximum(lam - burst * self.window_hours / (2 * base_half), 1e-3)
            unverified_before = np.r_[0, np.cumsum(unverified[sub.index.to_numpy()])]
            share = (unverified_before[hi] - unverified_before[lo]) / burst
            score = ramp(surprise(burst, lam), self.surprise_from, self.surprise_to) * share
            found.append(
                pd.DataFrame(
                    {"code": codes_all[k], "score": score, "key": key, "value": values[k],
                     "burst": burst, "expected": lam, "unverified_share": share}
                )[score > 0]
            )  # fmt: skip
            # a burst links its accounts once, from its middle account
            link = (score > 0) & (burst <= self.max_group) & (k == lo + burst // 2)
            for first, stop, s in zip(lo[link], hi[link], score[link].tolist(), strict=True):
                linking.append(codes_all[first:stop])
                facts.append((s, key, str(values[first]), int(stop - first)))
        if found:
            bursts = pd.concat(found, ignore_index=True)
            # each account's strongest burst: the highest score, then the greatest key, then
            # the first found (lexsort is stable)
            key_rank = bursts.key.map(sorted(KEYS).index).to_numpy()
            order = np.lexsort((-key_rank, -bursts.score.to_numpy(), bursts.code.to_numpy()))
            for row in bursts.iloc[order].drop_duplicates("code").itertuples(index=False):
                ev = {
                    "key": row.key,
                    "value": str(row.value),
                    "burst": int(row.burst),
                    "expected": round(float(row.expected), 3),
                    "window_hours": self.window_hours,
                    "unverified_share": round(float(row.unverified_share), 3),
                }
                out.add(accounts[row.code], float(row.score), ev)
        out.links = self.links(accounts, linking, facts)
        return out

    def links(
        self,
        accounts: np.ndarray,
        linking: list[np.ndarray],
        facts: list[tuple[float, str, str, int]],
    ) -> list[LinkCandidate] | LinkColumns:
        """Every pair of accounts in each linking burst, kept once, with its strongest burst
        (of equally strong ones the first found), then each account's ``top_k`` strongest
        partners: what ``pairs.top_k_links`` keeps, from arrays. ``accounts``: the ids in
        order of their codes (id order, so ``top_k_mask`` breaks ties as ``top_k_links``)."""
        if not linking:
            return []
        n = len(accounts)
        pairs = []
        for members in linking:
            members = np.unique(members)  # sorted: each pair (x, y) with x < y
            i, j = np.triu_indices(len(members), 1)
            pairs.append(members[i] * n + members[j])
        which = np.repeat(np.arange(len(pairs)), [len(p) for p in pairs])
        pair = np.concatenate(pairs)
        score = np.array([f[0] for f in facts])
        # by pair, strongest first, then the first burst found (the sort is stable)
        order = np.lexsort((-score[which], pair))
        pair, which = pair[order], which[order]
        first = np.r_[True, pair[1:] != pair[:-1]]
        pair, which = pair[first], which[first]
        xs, ys, weight = pair // n, pair % n, score[which]
        keep = top_k_mask(xs, ys, weight, self.top_k)
        xs, ys, which = xs[keep], ys[keep], which[keep]
        key, value, size = zip(*(f[1:] for f in facts), strict=True)
        return LinkColumns(
            self.id, "registration_burst", accounts[xs], accounts[ys], rounded(weight[keep], 4),
            {"key": np.asarray(key, dtype=object)[which],
             "value": np.asarray(value, dtype=object)[which],
             "burst": np.asarray(size, dtype=np.int64)[which]},
        )  # fmt: skip
