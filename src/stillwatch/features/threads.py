"""Chunks of array work on every core the process may use.

SciPy's sparse products (row selection, elementwise products, row sums) and NumPy's large
array operations release the GIL, so a chunked loop of them runs on several threads at once:
on two cores, the row products of the pair detectors take about half the time. Each chunk
writes its own slice of arrays allocated beforehand, so the result is the same whatever
order the chunks finish in; at most :func:`workers` chunks are in memory at once. A scan
holds them to its ``threads`` setting with :func:`at_most`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar

# More threads than this would hold as many chunks in memory for little gain.
MAX_WORKERS = 4

# the threads the caller allows (0: no limit but the cores); see at_most
_allowed: ContextVar[int] = ContextVar("stillwatch_threads", default=0)


@contextmanager
def at_most(threads: int) -> Iterator[None]:
    """Within the block, :func:`each_chunk` uses at most ``threads`` threads (0 sets no limit
    beyond the cores). The scan sets it from the store connection's ``threads``, so a user who
    holds DuckDB to one core holds the array work to one as well."""
    token = _allowed.set(max(0, int(threads)))
    try:
        yield
    finally:
        _allowed.reset(token)


def workers() -> int:
    """The threads :func:`each_chunk` uses: the cores this process may run on, at most
    ``MAX_WORKERS`` and at most what :func:`at_most` allows."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    allowed = _allowed.get() or cores
    return max(1, min(MAX_WORKERS, cores, allowed))


def chunk_bounds(n: int, size: int) -> list[tuple[int, int]]:
    """``[lo, hi)`` bounds covering ``range(n)`` in chunks of ``size``."""
    return [(lo, min(lo + size, n)) for lo in range(0, n, size)]


def each_chunk(bounds: Iterable[tuple[int, int]], work: Callable[[int, int], None]) -> None:
    """Run ``work(lo, hi)`` for each chunk, on :func:`workers` threads (in this thread when
    there is one chunk or one core); the first exception raised is raised here."""
    bounds = list(bounds)
    n = workers()
    if n == 1 or len(bounds) < 2:
        for lo, hi in bounds:
            work(lo, hi)
        return
    with ThreadPoolExecutor(n, thread_name_prefix="stillwatch-chunk") as pool:
        for done in [pool.submit(work, lo, hi) for lo, hi in bounds]:
            done.result()
