"""bench perf says up front when its work directory lacks the disk the run will need."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from stillwatch.bench import perf
from stillwatch.errors import StillwatchError


def test_too_little_free_disk_is_said_before_anything_runs(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    data.mkdir()
    (data / "exchanges.parquet").write_bytes(b"\0" * 10_000)
    assert perf.disk_needed(data) == int(10_000 * perf.DISK_PER_DATA_BYTE)
    monkeypatch.setattr(
        perf.shutil, "disk_usage", lambda _: SimpleNamespace(total=0, used=0, free=20_000)
    )
    ran: list[str] = []
    monkeypatch.setattr(perf, "_isolated", lambda fn, *a: ran.append(fn.__name__))
    with pytest.raises(StillwatchError, match=r"work: 0\.0 GB free; bench perf on .* needs"):
        perf.run_perf(data, tmp_path / "work", "1GB")
    assert ran == []
