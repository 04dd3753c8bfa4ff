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

from stillwatch.detectors.base import DetectorOutput, ScanContext, check_param, temp_table
from stillwatch.detectors.pairs import top_k_links
from stillwatch.features.sources import epoch_s

_PRIME = (1 << 61) - 1
# Minutes hashed at once when signing (each row a 64-wide uint64 block: about 128 MB).
CHUNK = 1 << 18


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

    def minute_sets(self, ctx: ScanContext) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """The accounts active in at least ``min_minutes`` distinct minutes (sorted), how many
        minutes each, all their minutes (one flat array, each account's sorted, in account
        order), and the span of everyone's activity in minutes. Counted in the backend; only
        numbers come back, so a large store's minute sets fit in memory."""
        ex = ctx.sources.exchanges
        minute = (epoch_s(ex.ts) / (60 * self.minute_bin)).floor().cast("int64")
        t = ex.select("account_id", minute=minute).distinct()
        backend = ex._find_backend()
        cached = backend.name == "duckdb"  # read three times below: computed once
        if cached:
            t = backend.table(temp_table(ctx, "_sw_minute_sets", t))
        try:
            per = t.group_by("account_id").aggregate(
                n=t.count(), lo=t.minute.min(), hi=t.minute.max()
            )
            whole = per.aggregate(lo=per.lo.min(), hi=per.hi.max()).to_pyarrow().to_pylist()[0]
            if whole["lo"] is None:
                return np.zeros(0, object), np.zeros(0, np.int64), np.zeros(0, np.uint64), 0
            span = int(whole["hi"] - whole["lo"] + 1)
            kept = per.filter(per.n >= self.min_minutes).select("account_id", "n")
            listed = kept.order_by("account_id").to_pyarrow()
            rows = t.semi_join(kept, "account_id").order_by(["account_id", "minute"])
            minutes = rows.select("minute").to_pyarrow().column("minute").to_numpy()
        finally:
            if cached:
                backend.con.execute("DROP TABLE IF EXISTS _sw_minute_sets")
        accounts = np.asarray(listed.column("account_id").to_pylist(), dtype=object)
        counts = listed.column("n").to_numpy().astype(np.int64)
        return accounts, counts, minutes.astype(np.uint64), span

    def signatures(self, counts: np.ndarray, minutes: np.ndarray) -> np.ndarray:
        """Each account's MinHash signature of its minute set, ``CHUNK`` minutes at a time."""
        rng = np.random.default_rng(self.seed)
        a = rng.integers(1, _PRIME, self.hashes, dtype=np.uint64)
        b = rng.integers(0, _PRIME, self.hashes, dtype=np.uint64)
        sig = np.full((len(counts), self.hashes), np.iinfo(np.uint64).max, dtype=np.uint64)
        owner = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
        for lo in range(0, len(minutes), CHUNK):
            m, r = minutes[lo : lo + CHUNK], owner[lo : lo + CHUNK]
            # (a·x + b) mod 2^64 with a final mix: a fast universal-style hash on uint64.
            h = m[:, None] * a[None, :] + b[None, :]
            h ^= h >> np.uint64(29)
            starts = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
            whose = r[starts]
            sig[whose] = np.minimum(sig[whose], np.minimum.reduceat(h, starts, axis=0))
        return sig

    def candidates(self, sig: np.ndarray) -> set[tuple[int, int]]:
        """Pairs of accounts whose signatures agree on a whole band (buckets of more than
        ``max_bucket`` accounts give none)."""
        per_band = self.hashes // self.bands
        found: set[tuple[int, int]] = set()
        for band in range(self.bands):
            block = sig[:, band * per_band : (band + 1) * per_band]
            keys = block[:, 0].copy()
            for k in range(1, per_band):
                keys = keys * np.uint64(1_000_003) + block[:, k]
            order = np.argsort(keys, kind="stable")
            ordered = keys[order]
            starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
            ends = np.r_[starts[1:], len(keys)]
            size = ends - starts
            for s, e in zip(starts[(size >= 2) & (size <= self.max_bucket)],
                            ends[(size >= 2) & (size <= self.max_bucket)], strict=True):  # fmt: skip
                members = np.sort(order[s:e]).tolist()
                for x in range(len(members)):
                    for y in range(x + 1, len(members)):
                        found.add((members[x], members[y]))
        return found

    def run(self, ctx: ScanContext) -> DetectorOutput:
        out = DetectorOutput()
        accounts, counts, minutes, span = self.minute_sets(ctx)
        if not len(accounts):
            return out
        offsets = np.r_[0, np.cumsum(counts)]
        candidates = self.candidates(self.signatures(counts, minutes))

        def minutes_of(i: int) -> np.ndarray:
            return minutes[offsets[i] : offsets[i + 1]]

        partners: dict[int, list[tuple[float, float, int]]] = defaultdict(list)
        links = []
        for i, j in sorted(candidates):
            inter = len(np.intersect1d(minutes_of(i), minutes_of(j), assume_unique=True))
            if not inter:
                continue
            union = int(counts[i] + counts[j]) - inter
            jac = inter / union
            lift = inter * span / (int(counts[i]) * int(counts[j]))
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
                    "active_minutes": int(counts[i]),
                },
            )
        out.links = top_k_links(self.id, links, self.top_k)
        return out
