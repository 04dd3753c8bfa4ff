"""This process's resident memory: what it holds now, its high-water mark, and a mark that
starts over at each stage of a scan, so the scan's record says which stage held the most.

Linux keeps both figures in ``/proc/self/status`` (per address space: DuckDB's buffers and
Python's objects alike) and lets a process start its high-water mark over by writing ``5`` to
``/proc/self/clear_refs``. Elsewhere the stage marks are None and only ``ru_maxrss`` is read.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
_highest_started_over = 0.0  # the highest mark a stage started over, in MB


def _linux_mb() -> tuple[float, float] | None:
    """(VmRSS, VmHWM) in MB as Linux keeps them, or None without ``/proc``."""
    if not _STATUS.is_file():
        return None
    fields = dict(line.split(":", 1) for line in _STATUS.read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def resident_mb() -> tuple[float, float]:
    """(resident now, resident high-water mark) of this process, in MB.

    The mark is the whole process's, even after ``stage_peak_mb`` started Linux's over: the
    highest mark a stage cleared counts too. ``ru_maxrss`` is only a fallback: Linux carries
    the parent's mark across ``exec``, so in a spawned child it is not the child's own.
    """
    linux = _linux_mb()
    if linux is not None:
        return linux[0], max(linux[1], _highest_started_over)
    scale = 1 / 1024 / 1024 if sys.platform == "darwin" else 1 / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    return peak, peak


def stage_peak_mb() -> float | None:
    """The resident high-water mark since the last call (or since the process began), in MB,
    and a new mark started from what the process holds now. None where the mark cannot start
    over (no ``/proc``, or writing ``clear_refs`` refused)."""
    global _highest_started_over
    linux = _linux_mb()
    if linux is None:
        return None
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return None
    _highest_started_over = max(_highest_started_over, linux[1])
    return round(linux[1], 1)
