"""Re-ingesting changes nothing; an error mid-file leaves the store as it was."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from stillwatch.engine.store import Store
from stillwatch.ingest import load
from tests.ingest.helpers import exchange, run, write_jsonl


def _snapshot(store: Store) -> dict[str, int]:
    return store.counts()


def test_reingest_same_file_changes_nothing(store: Store, tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "ex.jsonl", [exchange(i) for i in range(50)] + ["bad"])
    first = run(store, f).files[0]
    before = _snapshot(store)
    again = run(store, f).files[0]
    assert first.accepted == 50 and first.quarantined == 1
    assert again.skipped.startswith("already ingested")
    assert _snapshot(store) == before
    # the same rows under another name are duplicates, not new rows
    copy = tmp_path / "copy.jsonl"
    copy.write_text(f.read_text() + "\n")
    third = run(store, copy).files[0]
    assert (third.accepted, third.duplicates, third.quarantined) == (0, 50, 1)
    assert store.counts()["exchanges"] == 50


def test_a_new_file_of_a_known_size_is_not_skipped(store: Store, tmp_path: Path) -> None:
    """Files of a size never ingested are hashed while they load; same size: hashed first."""
    first = write_jsonl(tmp_path / "a.jsonl", [exchange(10 + i) for i in range(20)])
    second = write_jsonl(tmp_path / "b.jsonl", [exchange(70 + i) for i in range(20)])
    assert first.stat().st_size == second.stat().st_size
    assert run(store, first).files[0].accepted == 20
    report = run(store, second).files[0]
    assert not report.skipped and report.accepted == 20
    digests = store.sql("SELECT DISTINCT content_sha256 FROM ingest_runs")
    assert len(digests) == 2
    assert run(store, second).files[0].skipped.startswith("already ingested")


def test_error_mid_file_rolls_back_everything(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    done = write_jsonl(tmp_path / "done.jsonl", [exchange(1000 + i) for i in range(10)])
    run(store, done)
    before = _snapshot(store)
    f = write_jsonl(tmp_path / "ex.jsonl", [exchange(i) for i in range(100)] + ["bad"] * 3)
    calls = {"n": 0}
    original = load.FileLoader.load

    def failing(self: load.FileLoader, batch: object, stage: object) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk on fire")
        original(self, batch, stage)  # type: ignore[arg-type]

    monkeypatch.setattr(load.FileLoader, "load", failing)
    with pytest.raises(RuntimeError, match="disk on fire"):
        run(store, f, batch_rows=20)
    assert calls["n"] == 3  # two batches were written before the failure
    assert _snapshot(store) == before
    monkeypatch.setattr(load.FileLoader, "load", original)
    report = run(store, f, batch_rows=20).files[0]
    assert report.accepted == 100 and report.quarantined == 3


def test_store_file_is_owner_only(store: Store) -> None:
    mode = stat.S_IMODE(os.stat(store.path).st_mode)
    assert mode == 0o600


def test_batches_do_not_change_results(tmp_path: Path) -> None:
    from stillwatch.engine.store import open_store

    rows = [exchange(i % 70, model=f"m{i % 90}") for i in range(200)] + ["x", "[]"]
    f = write_jsonl(tmp_path / "ex.jsonl", rows)
    results = []
    for batch_rows in (7, 1000):
        with open_store(tmp_path / f"s{batch_rows}.duckdb") as s:
            r = run(s, f, batch_rows=batch_rows).files[0]
            stored = s.sql("SELECT event_id, model FROM exchanges ORDER BY event_id")
            results.append((r.accepted, r.duplicates, r.conflicts, r.quarantined, stored))
    assert results[0] == results[1]
    assert results[0][0] == 70


def test_parquet_batches_follow_row_groups(store: Store, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [exchange(i) for i in range(95)]
    rows[56]["ts"] = "not a time"
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "ex.parquet", row_group_size=10)
    report = run(store, tmp_path / "ex.parquet", batch_rows=25).files[0]
    assert (report.rows_read, report.accepted, report.quarantined) == (95, 94, 1)
    assert store.sql("SELECT line FROM quarantine") == [(57,)]
