"""Run one method on one data-set folder and measure its wall time and peak memory.

Each run happens in a fresh process, so its peak resident memory is its own: the figure is
the high-water mark of resident memory above what the process held before the run began
(interpreter and libraries excluded; the data the method reads included).
"""

from __future__ import annotations

import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from stillwatch.bench.dataset import Dataset
from stillwatch.bench.method import MethodResult
from stillwatch.bench.methods import make_method


@dataclass(frozen=True)
class MethodRun:
    method: str
    result: MethodResult
    wall_seconds: float
    peak_memory_mb: float | None


def _memory_mb() -> tuple[float, float]:
    """(resident now, resident high-water mark) of this process, in MB.

    Linux's ``/proc/self/status`` is per address space; ``ru_maxrss`` is not a fallback
    to trust in a spawned child, because Linux carries the parent's mark across ``exec``.
    """
    status = Path("/proc/self/status")
    if status.is_file():
        fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024
    scale = 1 / 1024 / 1024 if sys.platform == "darwin" else 1 / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    return peak, peak


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
    before, _ = _memory_mb()
    run = run_here(method, folder, no_content)
    _, peak = _memory_mb()
    return MethodRun(method, run.result, run.wall_seconds, max(peak - before, 0.0))


def run_isolated(method: str, folder: Path, no_content: bool = False) -> MethodRun:
    """Run in a fresh process and measure its own peak memory."""
    context = get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_run_measured, method, folder, no_content).result()
