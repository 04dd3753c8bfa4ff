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


def resident_mb() -> tuple[float, float]:
    """(resident now, resident high-water mark) of this process, in MB.

    ``ru_maxrss`` is only a fallback: Linux carries the parent's mark across ``exec``, so in a
    spawned child it is not the child's own.
    """
    if _STATUS.is_file():
        fields = dict(
            line.split(":", 1) for line in _STATUS.read_text().splitlines() if ":" in line
        )
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024
    scale = 1 / 1024 / 1024 if sys.platform == "darwin" else 1 / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    return peak, peak


def stage_peak_mb() -> float | None:
    """The resident high-water mark since the last call (or since the process began), in MB,
    and a new mark started from what the process holds now. None where the mark cannot start
    over (no ``/proc``, or writing ``clear_refs`` refused)."""
    _, peak = resident_mb()
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return None
    return round(peak, 1)
