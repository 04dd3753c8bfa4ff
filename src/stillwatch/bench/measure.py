"""Run one method on one data-set folder and measure its wall time and peak memory.

Each run happens in a fresh process, so its peak resident memory is its own: the figure is
the high-water mark of resident memory above what the process held before the run began
(interpreter and libraries excluded; the data the method reads included).
"""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from stillwatch.bench.dataset import Dataset
from stillwatch.bench.method import MethodResult
from stillwatch.bench.methods import make_method
from stillwatch.engine.memory import resident_mb


@dataclass(frozen=True)
class MethodRun:
    method: str
    result: MethodResult
    wall_seconds: float
    peak_memory_mb: float | None


def run_here(method: str, folder: Path, no_content: bool = False) -> MethodRun:
    """Run in this process (no memory figure: the high-water mark is not this run's own)."""
    start = time.perf_counter()
    dataset = Dataset.from_folder(folder, no_content=no_content)
    try:
        result = make_method(method).run(dataset)
    finally:
        dataset.close()
    return MethodRun(method, result, time.perf_counter() - start, None)


def _run_measured(method: str, folder: Path, no_content: bool = False) -> MethodRun:
    before, _ = resident_mb()
    run = run_here(method, folder, no_content)
    _, peak = resident_mb()
    return MethodRun(method, run.result, run.wall_seconds, max(peak - before, 0.0))


def run_isolated(method: str, folder: Path, no_content: bool = False) -> MethodRun:
    """Run in a fresh process and measure its own peak memory."""
    context = get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_run_measured, method, folder, no_content).result()
