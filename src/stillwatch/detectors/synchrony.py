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

import numpy as np
from scipy import sparse

from stillwatch.detectors.base import (
    DetectorOutput,
    LinkColumns,
    ScanContext,
    check_param,
    rounded,
    temp_table,
)
from stillwatch.detectors.pairs import top_k_mask
from stillwatch.features.codes import bucket_pairs, distinct
from stillwatch.features.sources import epoch_s
from stillwatch.features.threads import each_chunk

_PRIME = (1 << 61) - 1
# Minutes hashed at once when signing (a row of ``hashes`` uint64 each: 256 kB at 64 hashes).
CHUNK = 1 << 9
# Candidate pairs whose shared minutes are counted at once, and the most minutes their rows
# may hold together (accounts busy in nearly every minute hold tens of thousands each).
PAIR_CHUNK = 250_000
PAIR_MINUTES = 1 << 24


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
        """Each account's MinHash signature of its minute set, ``CHUNK`` minutes at a time
        (small enough that each step's arrays stay in the CPU's caches)."""
        rng = np.random.default_rng(self.seed)
        a = rng.integers(1, _PRIME, self.hashes, dtype=np.uint64)
        b = rng.integers(0, _PRIME, self.hashes, dtype=np.uint64)
        sig = np.full((len(counts), self.hashes), np.iinfo(np.uint64).max, dtype=np.uint64)
        owner = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
        h = np.empty((CHUNK, self.hashes), dtype=np.uint64)
        mixed = np.empty_like(h)
        shift = np.uint64(29)
        for lo in range(0, len(minutes), CHUNK):
            m, r = minutes[lo : lo + CHUNK], owner[lo : lo + CHUNK]
            hh, mm = h[: len(m)], mixed[: len(m)]
            # (a·x + b) mod 2^64 with a final mix: a fast universal-style hash on uint64.
            np.multiply(m[:, None], a[None, :], out=hh)
            hh += b[None, :]
            np.right_shift(hh, shift, out=mm)
            hh ^= mm
            starts = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
            whose = r[starts]
            sig[whose] = np.minimum(sig[whose], np.minimum.reduceat(hh, starts, axis=0))
        return sig

    def candidates(self, sig: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pairs of accounts ``(x, y)``, ``x < y``, sorted, whose signatures agree on a whole
        band (buckets of more than ``max_bucket`` accounts give none), as arrays
        (:func:`.codes.bucket_pairs`)."""
        n = len(sig)
        per_band = self.hashes // self.bands
        found: list[np.ndarray] = []
        for band in range(self.bands):
            block = sig[:, band * per_band : (band + 1) * per_band]
            keys = block[:, 0].copy()
            for k in range(1, per_band):
                keys = keys * np.uint64(1_000_003) + block[:, k]
            found.append(bucket_pairs(keys, self.max_bucket))
        codes = distinct(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)
        return codes // max(n, 1), codes % max(n, 1)

    def shared_minutes(
        self, counts: np.ndarray, minutes: np.ndarray, xs: np.ndarray, ys: np.ndarray
    ) -> np.ndarray:
        """How many minutes each pair of accounts ``(xs[k], ys[k])`` shares: rows of a sparse
        account × minute matrix multiplied, a chunk of pairs at a time."""
        if not len(xs):
            return np.zeros(0, dtype=np.int64)
        signed = minutes.view(np.int64)  # minutes before 1970 are negative
        base = int(signed.min())
        held = sparse.csr_matrix(
            (np.ones(len(minutes), dtype=np.int32), signed - base, np.r_[0, np.cumsum(counts)]),
            shape=(len(counts), int(signed.max()) - base + 1),
        )
        shared = np.zeros(len(xs), dtype=np.int64)
        # chunks of at most PAIR_CHUNK pairs whose rows hold at most PAIR_MINUTES minutes
        # together (a pair over that alone is a chunk of its own)
        held_minutes = np.cumsum(counts[xs] + counts[ys])
        bounds, lo = [], 0
        while lo < len(xs):
            before = int(held_minutes[lo - 1]) if lo else 0
            hi = int(np.searchsorted(held_minutes, before + PAIR_MINUTES, side="right"))
            hi = min(max(hi, lo + 1), lo + PAIR_CHUNK)
            bounds.append((lo, hi))
            lo = hi

        def chunk(lo: int, hi: int) -> None:
            x, y = xs[lo:hi], ys[lo:hi]
            shared[lo:hi] = np.asarray(held[x].multiply(held[y]).sum(axis=1)).ravel()

        each_chunk(bounds, chunk)  # on every core: the sparse products release the GIL
        return shared

    def run(self, ctx: ScanContext) -> DetectorOutput:
        out = DetectorOutput()
        accounts, counts, minutes, span = self.minute_sets(ctx)
        if not len(accounts):
            return out
        xs, ys = self.candidates(self.signatures(counts, minutes))
        inter = self.shared_minutes(counts, minutes, xs, ys)
        union = counts[xs] + counts[ys] - inter
        with np.errstate(divide="ignore", invalid="ignore"):
            jac = inter / union
            lift = inter * span / (counts[xs] * counts[ys])
        keep = (inter > 0) & (jac >= self.min_jaccard) & (lift >= self.min_lift)
        xs, ys, inter, jac, lift = xs[keep], ys[keep], inter[keep], jac[keep], lift[keep]
        if not len(xs):
            return out
        # each account's partners, its best the largest (Jaccard, lift, partner) of them
        end = np.concatenate([xs, ys])
        partner = np.concatenate([ys, xs])
        j2, l2 = np.tile(jac, 2), np.tile(lift, 2)
        order = np.lexsort((partner, l2, j2, end))
        end, j2, l2 = end[order], j2[order], l2[order]
        last = np.flatnonzero(np.r_[end[1:] != end[:-1], True])
        partners = np.diff(np.r_[-1, last])
        for i, n, jc, lf in zip(end[last].tolist(), partners.tolist(), j2[last].tolist(),
                                l2[last].tolist(), strict=True):  # fmt: skip
            out.add(
                str(accounts[i]),
                min(1.0, n / self.partners_full),
                {"partners": n, "best_jaccard": round(jc, 4), "best_lift": round(lf, 2),
                 "active_minutes": int(counts[i])},
            )  # fmt: skip
        # the links from arrays: the pairs are distinct and accounts are numbered in id
        # order, so ``top_k_mask`` keeps what ``top_k_links`` would
        at = np.flatnonzero(top_k_mask(xs, ys, jac, self.top_k))
        at = at[np.lexsort((ys[at], xs[at]))]
        out.links = LinkColumns(
            self.id, "same_minutes", accounts[xs[at]], accounts[ys[at]], rounded(jac[at], 4),
            {"shared_minutes": inter[at].astype(np.int64), "jaccard": rounded(jac[at], 4),
             "lift": rounded(lift[at], 2)},
        )  # fmt: skip
        return out
