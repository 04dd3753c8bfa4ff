"""Files, globs, folders and data sets resolve to the right tables; ground truth never does."""

from __future__ import annotations

from pathlib import Path

import pytest

from stillwatch.errors import UsageError
from stillwatch.ingest import discover


def test_globs_folders_and_datasets(tmp_path: Path) -> None:
    for name in ("a.jsonl", "b.csv.gz", "notes.txt"):
        (tmp_path / "logs" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "logs" / name).write_text("x")
    found, _ = discover([str(tmp_path / "logs" / "*.jsonl")])
    assert [(f.path.name, f.table, f.format, f.gzip) for f in found] == [
        ("a.jsonl", "exchanges", "jsonl", False)
    ]
    found, _ = discover([str(tmp_path / "logs")])
    assert sorted(f.path.name for f in found) == ["a.jsonl", "b.csv.gz"]
    data = tmp_path / "dataset"
    (data / "exchanges").mkdir(parents=True)
    for name in ("exchanges/part-0.parquet", "exchanges/part-1.parquet", "accounts.csv",
                 "labels_accounts.parquet", "labels_exchanges.parquet"):  # fmt: skip
        (data / name).write_text("x")
    found, notes = discover([str(data)])
    assert [(f.path.name, f.table) for f in found] == [
        ("accounts.csv", "accounts"),
        ("part-0.parquet", "exchanges"),
        ("part-1.parquet", "exchanges"),
    ]
    assert "labels_accounts.parquet" in notes[0] and "never ingested" in notes[0]


def test_unusable_paths_say_why(tmp_path: Path) -> None:
    (tmp_path / "log.txt").write_text("x")
    (tmp_path / "labels_accounts.jsonl").write_text("x")
    with pytest.raises(UsageError, match=r"log.txt: cannot tell the format.*--input-format"):
        discover([str(tmp_path / "log.txt")])
    found, _ = discover([str(tmp_path / "log.txt")], fmt="jsonl")
    assert found[0].format == "jsonl"
    with pytest.raises(UsageError, match="ground-truth tables are never ingested"):
        discover([str(tmp_path / "labels_accounts.jsonl")])
    with pytest.raises(UsageError, match="matches no file"):
        discover([str(tmp_path / "*.parquet")])
    with pytest.raises(UsageError, match="no input files"):
        discover([])
