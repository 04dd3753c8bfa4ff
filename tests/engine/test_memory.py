"""The stage high-water mark: it sees what a stage held and starts over for the next."""

from __future__ import annotations

import pytest

from stillwatch.engine.memory import resident_mb, stage_peak_mb


def test_a_stage_mark_sees_memory_freed_before_it_ends_and_the_next_starts_over() -> None:
    if stage_peak_mb() is None:
        pytest.skip("this system keeps no resettable high-water mark")
    held = bytearray(300 << 20)
    held[:: 1 << 12] = b"\x01" * len(held[:: 1 << 12])  # touch every page
    now, _ = resident_mb()
    del held
    first = stage_peak_mb()
    second = stage_peak_mb()
    assert first is not None and second is not None
    assert first >= now - 1 and now > 300  # the mark is rounded to 0.1 MB
    assert second < first - 250


def test_the_process_high_water_mark_outlives_the_stage_marks() -> None:
    """Whoever reads the whole process's peak (bench quality's isolated runs) still sees a
    stage's peak after the stage marks started over."""
    if stage_peak_mb() is None:
        pytest.skip("this system keeps no resettable high-water mark")
    held = bytearray(300 << 20)
    held[:: 1 << 12] = b"\x01" * len(held[:: 1 << 12])
    now, _ = resident_mb()
    del held
    stage_peak_mb()
    stage_peak_mb()
    after, peak = resident_mb()
    assert peak >= now - 1 and after < now - 250
