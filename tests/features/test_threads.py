"""Chunks of array work on several threads: every chunk done once, each into its own slice,
and a failure in any chunk raised to the caller."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

from stillwatch.engine.store import open_store
from stillwatch.features import threads
from stillwatch.features.threads import chunk_bounds, each_chunk
from stillwatch.pipeline import scan


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


def test_at_most_holds_the_threads_within_its_block() -> None:
    free = threads.workers()
    with threads.at_most(1):
        assert threads.workers() == 1
        with threads.at_most(0):  # no limit but the cores
            assert threads.workers() == free
        assert threads.workers() == 1
    assert threads.workers() == free


@pytest.mark.parametrize("setting", [1, 0])
def test_a_scan_keeps_the_array_work_to_its_threads_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: int
) -> None:
    """A user who sets ``threads`` to 1 holds the pair detectors' row products to one thread
    too, not only DuckDB; left at 0, they use the cores (at most ``MAX_WORKERS``)."""
    seen: list[int] = []
    counted = threads.workers

    def workers() -> int:
        seen.append(counted())
        return seen[-1]

    monkeypatch.setattr(threads, "workers", workers)
    t0 = datetime(2026, 5, 1)
    rows = [(f"op{i}", f"task{j}") for i in range(4) for j in range(12)]
    with open_store(tmp_path / "s.duckdb", threads=setting) as store:
        store.con.executemany(
            "INSERT INTO exchanges (event_id, ts, account_id, prompt_sha256, input_tokens, "
            "turn_index) VALUES (?, ?, ?, ?, 200, 0)",
            [(f"e{k}", t0 + timedelta(minutes=k), a, h) for k, (a, h) in enumerate(rows)],
        )
        result = scan(store, {"flag_threshold": 0.5, "rules": ""}, only=["prompts.shared-hashes"])
    assert result.detectors["prompts.shared-hashes"]["links"] > 0  # its pair weights ran
    assert seen and set(seen) == ({1} if setting == 1 else {counted()})
