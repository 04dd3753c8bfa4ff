"""Chunks of array work on several threads: every chunk done once, each into its own slice,
and a failure in any chunk raised to the caller."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from stillwatch.features import threads
from stillwatch.features.threads import chunk_bounds, each_chunk


@pytest.mark.parametrize("n_workers", [1, 3])
def test_sparse_row_products_in_threads_equal_one_pass(
    monkeypatch: pytest.MonkeyPatch, n_workers: int
) -> None:
    monkeypatch.setattr(threads, "workers", lambda: n_workers)
    rng = np.random.default_rng(4)
    held = sparse.random(300, 80, density=0.1, format="csr", random_state=5)
    xs, ys = rng.integers(0, 300, 5_000), rng.integers(0, 300, 5_000)
    whole = np.asarray(held[xs].multiply(held[ys]).sum(axis=1)).ravel()
    got = np.full(len(xs), np.nan)
    calls: list[tuple[int, int]] = []

    def chunk(lo: int, hi: int) -> None:
        calls.append((lo, hi))
        got[lo:hi] = np.asarray(held[xs[lo:hi]].multiply(held[ys[lo:hi]]).sum(axis=1)).ravel()

    each_chunk(chunk_bounds(len(xs), 333), chunk)
    assert np.array_equal(got, whole)  # bit for bit: a row's sum does not depend on the chunk
    assert sorted(calls) == chunk_bounds(len(xs), 333)
    assert chunk_bounds(len(xs), 333)[-1] == (4_995, 5_000) and chunk_bounds(0, 333) == []


def test_a_failing_chunk_raises_to_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "workers", lambda: 2)

    def chunk(lo: int, hi: int) -> None:
        if lo == 20:
            raise ValueError(f"chunk {lo}-{hi} failed")

    with pytest.raises(ValueError, match="chunk 20-30 failed"):
        each_chunk(chunk_bounds(50, 10), chunk)


def test_workers_are_the_cores_at_most_the_cap() -> None:
    assert 1 <= threads.workers() <= threads.MAX_WORKERS
