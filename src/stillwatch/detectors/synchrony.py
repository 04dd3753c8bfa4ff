"""Synchronized timing: accounts busy in the same minutes.

Each account's set of active minutes is summarized by a MinHash signature (``hashes``
universal hash functions); locality-sensitive hashing (``bands`` bands) proposes candidate
pairs whose signatures agree on a whole band, so similar accounts meet without comparing all
pairs. Candidates are then checked exactly: Jaccard similarity of the minute sets, and the
*lift* of their overlap over what two independent accounts this busy would share by chance
(``|A|·|B| / minutes``). An account's score grows with the number of partners at Jaccard ≥
``min_jaccard`` and lift ≥ ``min_lift`` (``partners_full`` or more counts fully).

Catches: load-balanced hydras whose scheduler makes many accounts fire in the same minutes.
Known false positives: accounts driven by one legitimate scheduler (an enterprise fleet, an
app's worker pool) and, at very high activity, accounts busy in nearly every minute (their
lift is low, which is why lift is required).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd

from stillwatch.detectors.base import DetectorOutput, ScanContext, check_param
from stillwatch.detectors.pairs import top_k_links
from stillwatch.features.sources import epoch_s

_PRIME = (1 << 61) - 1


class SynchronizedTiming:
    id = "synchrony.same-minutes"
    version = "1"
    family = "synchrony"
    requires = ("exchanges.ts",)
    evidence_keys = ("partners", "best_jaccard", "best_lift", "active_minutes")
    description = "accounts active in the same minutes (MinHash/LSH over active-minute sets)"
    false_positives = "one legitimate scheduler driving many accounts (fleets, app workers)"

    def __init__(
        self,
        minute_bin: int = 1,
        hashes: int = 64,
        bands: int = 32,
        min_minutes: int = 20,
        max_bucket: int = 500,
        min_jaccard: float = 0.1,
        min_lift: float = 5.0,
        partners_full: int = 5,
        top_k: int = 20,
        seed: int = 7,
    ) -> None:
        check_param("minute_bin", minute_bin, 1, 1440, integer=True)
        check_param("hashes", hashes, 4, 1024, integer=True)
        check_param("bands", bands, 1, hashes, integer=True)
        if hashes % bands:
            raise ValueError(f"hashes must be a multiple of bands; got {hashes} and {bands}")
        check_param("min_minutes", min_minutes, 1, 1e9, integer=True)
        check_param("max_bucket", max_bucket, 2, 1e9, integer=True)
        check_param("min_jaccard", min_jaccard, 0, 1)
        check_param("min_lift", min_lift, 0, 1e9)
        check_param("partners_full", partners_full, 1, 10_000, integer=True)
        check_param("top_k", top_k, 1, 10_000, integer=True)
        check_param("seed", seed, 0, 2**32 - 1, integer=True)
        self.minute_bin = minute_bin
        self.hashes = hashes
        self.bands = bands
        self.min_minutes = min_minutes
        self.max_bucket = max_bucket
        self.min_jaccard = min_jaccard
        self.min_lift = min_lift
        self.partners_full = partners_full
        self.top_k = top_k
        self.seed = seed

    def minute_sets(self, ctx: ScanContext) -> pd.DataFrame:
        ex = ctx.sources.exchanges
        minute = (epoch_s(ex.ts) / (60 * self.minute_bin)).floor().cast("int64")
        t = ex.select("account_id", minute=minute).distinct()
        df = t.to_pandas()
        return df.sort_values(["account_id", "minute"], kind="stable").reset_index(drop=True)

    def run(self, ctx: ScanContext) -> DetectorOutput:
        out = DetectorOutput()
        df = self.minute_sets(ctx)
        if df.empty:
            return out
        span = int(df.minute.max() - df.minute.min() + 1)
        sizes = df.groupby("account_id").size()
        keep = sizes[sizes >= self.min_minutes].index
        df = df[df.account_id.isin(keep)]
        if df.empty:
            return out
        accounts = np.array(sorted(keep), dtype=object)
        index = {a: i for i, a in enumerate(accounts)}
        rows = df.account_id.map(index).to_numpy()
        minutes = df.minute.to_numpy().astype(np.uint64)
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        sets = np.split(minutes, starts[1:])
        rng = np.random.default_rng(self.seed)
        a = rng.integers(1, _PRIME, self.hashes, dtype=np.uint64)
        b = rng.integers(0, _PRIME, self.hashes, dtype=np.uint64)
        sig = np.empty((len(accounts), self.hashes), dtype=np.uint64)
        for i, s in enumerate(sets):
            # (a·x + b) mod 2^64 with a final mix: a fast universal-style hash on uint64.
            h = s[:, None] * a[None, :] + b[None, :]
            h ^= h >> np.uint64(29)
            sig[i] = h.min(axis=0)
        per_band = self.hashes // self.bands
        candidates: set[tuple[int, int]] = set()
        for band in range(self.bands):
            block = sig[:, band * per_band : (band + 1) * per_band]
            keys = block[:, 0].copy()
            for k in range(1, per_band):
                keys = keys * np.uint64(1_000_003) + block[:, k]
            buckets: dict[int, list[int]] = defaultdict(list)
            for i, k in enumerate(keys.tolist()):
                buckets[k].append(i)
            for members in buckets.values():
                if 2 <= len(members) <= self.max_bucket:
                    for x in range(len(members)):
                        for y in range(x + 1, len(members)):
                            candidates.add((members[x], members[y]))
        as_sets = [set(s.tolist()) for s in sets]
        partners: dict[int, list[tuple[float, float, int]]] = defaultdict(list)
        links = []
        for i, j in sorted(candidates):
            inter = len(as_sets[i] & as_sets[j])
            if not inter:
                continue
            union = len(as_sets[i]) + len(as_sets[j]) - inter
            jac = inter / union
            lift = inter * span / (len(as_sets[i]) * len(as_sets[j]))
            if jac >= self.min_jaccard and lift >= self.min_lift:
                partners[i].append((jac, lift, j))
                partners[j].append((jac, lift, i))
                ev = {"shared_minutes": inter, "jaccard": round(jac, 4), "lift": round(lift, 2)}
                links.append((accounts[i], accounts[j], jac, "same_minutes", ev))
        for i in sorted(partners):
            ps = partners[i]
            best = max(ps)
            score = min(1.0, len(ps) / self.partners_full)
            out.add(
                str(accounts[i]),
                score,
                {
                    "partners": len(ps),
                    "best_jaccard": round(best[0], 4),
                    "best_lift": round(best[1], 2),
                    "active_minutes": len(as_sets[i]),
                },
            )
        out.links = top_k_links(self.id, links, self.top_k)
        return out
