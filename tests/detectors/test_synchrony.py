"""Synchronized timing's pairs, from arrays: the same pairs and shared minutes as asking every
pair of accounts directly."""

from __future__ import annotations

import itertools

import numpy as np

from stillwatch.detectors.synchrony import SynchronizedTiming


def _minute_sets(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """120 accounts: 40 on one schedule (each a random 80% of the same 200 minutes), the rest
    busy in minutes of their own choosing over a day."""
    rng = np.random.default_rng(seed)
    schedule = rng.choice(1440, 200, replace=False)
    sets = [np.sort(rng.choice(schedule, 160, replace=False)) for _ in range(40)]
    sets += [
        np.sort(rng.choice(1440, int(rng.integers(20, 300)), replace=False)) for _ in range(80)
    ]
    counts = np.array([len(s) for s in sets], dtype=np.int64)
    return counts, np.concatenate(sets).astype(np.uint64) + np.uint64(29_000_000)


def test_candidates_are_the_pairs_agreeing_on_a_band() -> None:
    d = SynchronizedTiming(hashes=16, bands=8, max_bucket=30)
    counts, minutes = _minute_sets(1)
    sig = d.signatures(counts, minutes)
    xs, ys = d.candidates(sig)
    found = set(zip(xs.tolist(), ys.tolist(), strict=True))
    expected = set()
    rows = d.hashes // d.bands
    for band in range(d.bands):
        keys = [tuple(r) for r in sig[:, band * rows : (band + 1) * rows].tolist()]
        buckets: dict[tuple[int, ...], list[int]] = {}
        for i, k in enumerate(keys):
            buckets.setdefault(k, []).append(i)
        for members in buckets.values():
            if 2 <= len(members) <= d.max_bucket:
                expected.update(itertools.combinations(members, 2))
    assert expected and found == expected
    assert list(zip(xs.tolist(), ys.tolist(), strict=True)) == sorted(found)


def test_signatures_are_each_accounts_smallest_hashes() -> None:
    """Hashed a few minutes at a time in place: each account's signature is the minimum of
    the hash over its minutes, computed here one account at a time."""
    d = SynchronizedTiming(hashes=8, bands=4)
    counts, minutes = _minute_sets(3)
    sig = d.signatures(counts, minutes)
    rng = np.random.default_rng(d.seed)
    a = rng.integers(1, (1 << 61) - 1, d.hashes, dtype=np.uint64)
    b = rng.integers(0, (1 << 61) - 1, d.hashes, dtype=np.uint64)
    offsets = np.r_[0, np.cumsum(counts)]
    for i in range(len(counts)):
        h = minutes[offsets[i] : offsets[i + 1], None] * a[None, :] + b[None, :]
        h ^= h >> np.uint64(29)
        assert (sig[i] == h.min(axis=0)).all()


def test_shared_minutes_are_the_intersections(monkeypatch) -> None:
    """Also across chunk boundaries (a handful of pairs or minutes a chunk), and for minutes
    before 1970 (negative)."""
    import stillwatch.detectors.synchrony as synchrony

    monkeypatch.setattr(synchrony, "PAIR_CHUNK", 97)
    monkeypatch.setattr(synchrony, "PAIR_MINUTES", 5_000)
    d = SynchronizedTiming()
    counts, minutes = _minute_sets(2)
    minutes = (minutes.view(np.int64) - 29_000_700).view(np.uint64)  # some before 1970
    offsets = np.r_[0, np.cumsum(counts)]
    pairs = list(itertools.combinations(range(len(counts)), 2))
    xs = np.array([p[0] for p in pairs])
    ys = np.array([p[1] for p in pairs])
    shared = d.shared_minutes(counts, minutes, xs, ys)
    for (i, j), n in zip(pairs, shared.tolist(), strict=True):
        a, b = minutes[offsets[i] : offsets[i + 1]], minutes[offsets[j] : offsets[j + 1]]
        assert n == len(np.intersect1d(a, b))
    assert shared[:39].min() > 0  # the scheduled accounts share minutes
