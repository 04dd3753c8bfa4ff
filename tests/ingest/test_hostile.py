"""The numbered cases of issue 9 (ingest hardening), one test each: what a hostile or unusual
input did before (in the docstring), and what it must do now. Cases 10, 14 and 15 are in
``tests/engine``, case 11's CLI parts in ``tests/cli``."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from stillwatch.engine.store import Store, open_store
from stillwatch.errors import UsageError
from stillwatch.ingest import readers
from tests.ingest.helpers import exchange, run, write_jsonl


def sw(*args: str, cwd: Path, timeout: float = 120, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stillwatch", *args],
        cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False, **kw,
    )  # fmt: skip


def one_line_error(done: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    return errors[0]


def test_1_glob_characters_in_a_file_name_are_that_file(store: Store, tmp_path: Path) -> None:
    """`ex[1].parquet` read `ex1.parquet`; `a*b.parquet` also pulled in `aXb.parquet`."""
    for name, i in (
        ("ex[1].parquet", 1),
        ("ex1.parquet", 2),
        ("a*b.parquet", 3),
        ("aXb.parquet", 4),
    ):
        pq.write_table(pa.Table.from_pylist([exchange(i)]), tmp_path / name)
    report = run(store, tmp_path / "ex[1].parquet", tmp_path / "a*b.parquet")
    assert [f.accepted for f in report.files] == [1, 1]
    assert sorted(r[0] for r in store.sql("SELECT event_id FROM exchanges")) == ["e1", "e3"]


def test_2_folders_lose_no_file_and_read_no_ground_truth(store: Store, tmp_path: Path) -> None:
    """A folder with accounts.jsonl and day1.jsonl skipped day1.jsonl silently; a parent
    folder of a data set read labels_* and manifest.json as exchanges."""
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    write_jsonl(mixed / "accounts.jsonl", [{"account_id": "a0"}])
    write_jsonl(mixed / "day1.jsonl", [exchange(1)])
    with pytest.raises(UsageError, match=r"day1\.jsonl, which name\(s\) no table"):
        run(store, mixed)
    parent = tmp_path / "parent"
    (parent / "sim").mkdir(parents=True)
    write_jsonl(parent / "sim" / "exchanges.jsonl", [exchange(1), exchange(2)])
    write_jsonl(parent / "sim" / "labels_accounts.jsonl", [{"account_id": "a1", "kind": "x"}])
    (parent / "sim" / "manifest.json").write_text('{"seed": 1}\n')
    write_jsonl(parent / "extra.jsonl", [exchange(3)])
    report = run(store, parent)
    assert not report.errors
    assert sorted((Path(f.file).name, f.accepted) for f in report.files) == [
        ("exchanges.jsonl", 2), ("extra.jsonl", 1)
    ]  # fmt: skip
    assert store.counts()["quarantine"] == 0


def test_3_digests_cannot_be_fooled_by_separators(store: Store, tmp_path: Path) -> None:
    """Rows differing only in where a \\x1f sits, or NULL against "\\u0000", were duplicates."""
    rows = [
        exchange(1, prompt="a\x1fb", response="c"),
        exchange(1, prompt="a", response="b\x1fc"),
        exchange(2, prompt=None),
        exchange(2, prompt="\u0000"),
        exchange(3, prompt="same"),
        exchange(3, prompt="same"),
    ]
    r = run(store, write_jsonl(tmp_path / "ex.jsonl", rows)).files[0]
    assert (r.accepted, r.duplicates, r.conflicts) == (3, 1, 2)


def test_4_a_csv_row_that_is_not_utf8_is_quarantined_alone(store: Store, tmp_path: Path) -> None:
    """One non-UTF-8 CSV row refused the whole file."""
    (tmp_path / "ex.csv").write_bytes(
        b"event_id,ts,account_id,model,prompt\n"
        b"e1,2026-04-22T00:00:00Z,a1,m,fine\n"
        b"e2,2026-04-22T00:00:00Z,a1,m,caf\xe9 latin-1\n"
        b"e3,2026-04-22T00:00:00Z,a1,m,\xc3\xa9t\xc3\xa9\n"
    )
    report = run(store, tmp_path / "ex.csv")
    assert not report.errors
    r = report.files[0]
    assert (r.rows_read, r.accepted, r.quarantined) == (3, 2, 1)
    line, reason, raw = store.sql("SELECT line, reason, raw FROM quarantine")[0]
    assert (line, reason) == (3, "prompt: not UTF-8 text")
    assert "e2" in raw and "\\xE9" in raw
    assert store.scalar("SELECT prompt FROM exchanges WHERE event_id = 'e3'") == "été"


def test_6_a_50_mb_json_line_is_stored_truncated(tmp_path: Path) -> None:
    """A 50 MB JSON line crashed with an out-of-memory traceback."""
    big = exchange(1, prompt='é"' * 6_500_000)  # 52 MB as JSON: every character escaped
    text = json.dumps(big)
    assert len(text) > 50_000_000
    (tmp_path / "ex.jsonl").write_text(text + "\n" + json.dumps(exchange(2)) + "\n")
    done = sw("ingest", "ex.jsonl", "--format", "json", cwd=tmp_path, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    totals = json.loads(done.stdout)["totals"]
    assert (totals["accepted"], totals["quarantined"]) == (2, 0)
    with open_store(tmp_path / "stillwatch.duckdb") as store:
        size, flags = store.sql(
            "SELECT strlen(prompt), _truncated FROM exchanges WHERE event_id = 'e1'"
        )[0]
    assert size <= 1024 * 1024 and size > 1024 * 1024 - 4 and flags == ["prompt"]


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "/dev/stdin"])
def test_7_pipes_and_devices_are_refused_at_once(tmp_path: Path, kind: str) -> None:
    """A FIFO, /dev/zero or /dev/stdin hung forever or read as an empty file."""
    target = kind
    if kind == "fifo":
        target = str(tmp_path / "ex.jsonl")
        os.mkfifo(target)
    done = sw("ingest", target, "--input-format", "jsonl", cwd=tmp_path, timeout=60,
              stdin=subprocess.PIPE)  # fmt: skip
    assert "not a regular file" in one_line_error(done)
    assert not (tmp_path / "stillwatch.duckdb").exists()


def _big_parquet(path: Path, rows: int) -> None:
    con = duckdb.connect()
    con.execute(
        f"""COPY (SELECT 'b' || i AS event_id, TIMESTAMPTZ '2026-04-22 00:00:00+00'
                         + to_milliseconds(i) AS ts, 'a' || (i % 1000) AS account_id,
                         'm' AS model, repeat('p', 50) || i AS prompt FROM range({rows}) t(i))
            TO '{path}' (FORMAT parquet)"""
    )
    con.close()


def test_8_ctrl_c_exits_130_and_keeps_the_store(tmp_path: Path) -> None:
    """Ctrl-C during ingest ended in a `Query interrupted` traceback (exit 1)."""
    write_jsonl(tmp_path / "first.jsonl", [exchange(i) for i in range(5)])
    assert sw("ingest", "first.jsonl", cwd=tmp_path).returncode == 0
    _big_parquet(tmp_path / "big.parquet", 1_500_000)
    interrupted = 0
    for delay in (0.0, 0.3, 0.6):
        proc = subprocess.Popen(
            [sys.executable, "-m", "stillwatch", "ingest", "big.parquet", "--batch-rows", "100000"],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        # The big file is read once the store was opened (the file grows past its tables).
        store_file = tmp_path / "stillwatch.duckdb"
        size = store_file.stat().st_size
        deadline = time.monotonic() + 60
        while store_file.stat().st_size == size and proc.poll() is None:
            time.sleep(0.02)
            assert time.monotonic() < deadline
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        # -SIGINT: the signal came while Python was already shutting down, the work done
        assert proc.returncode in (0, 130, -signal.SIGINT), err
        assert "Traceback" not in err, err
        with open_store(tmp_path / "stillwatch.duckdb") as store:
            # as before the file, or (the signal came after its commit) with all of it
            runs = store.counts()["ingest_runs"]
            assert store.counts()["exchanges"] == 5 + 1_500_000 * (runs - 1)
        if runs > 1:
            (tmp_path / "stillwatch.duckdb").unlink()
            assert sw("ingest", "first.jsonl", cwd=tmp_path).returncode == 0
        interrupted += proc.returncode == 130
    assert interrupted


def test_9_a_full_disk_is_one_line_and_rolls_back(tmp_path: Path) -> None:
    """A full disk gave IOException / TransactionException tracebacks."""
    write_jsonl(tmp_path / "small.jsonl", [exchange(i) for i in range(5)])
    assert sw("ingest", "small.jsonl", cwd=tmp_path).returncode == 0
    rows = [exchange(100 + i, prompt=f"{i} " + "x" * 400) for i in range(20_000)]
    write_jsonl(tmp_path / "big.jsonl", rows)

    def small_files() -> None:  # the store may not grow past 2 MB: as good as a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2_000_000, 2_000_000))

    done = sw("ingest", "big.jsonl", cwd=tmp_path, preexec_fn=small_files)
    assert "could not write the store" in one_line_error(done)
    with open_store(tmp_path / "stillwatch.duckdb") as store:
        assert store.counts()["exchanges"] == 5 and store.counts()["ingest_runs"] == 1


def test_9_an_unreadable_file_is_one_error_and_the_others_go_on(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unreadable input file gave a PermissionError traceback and stopped the rest."""
    locked = write_jsonl(tmp_path / "locked.jsonl", [exchange(1)])
    fine = write_jsonl(tmp_path / "fine.jsonl", [exchange(2)])
    real_open = open

    def guarded(path: Any, *args: Any, **kw: Any) -> Any:
        if str(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kw)

    monkeypatch.setattr(readers, "open", guarded, raising=False)
    monkeypatch.setattr("stillwatch.ingest.load.open", guarded, raising=False)
    report = run(store, locked, fine)
    assert report.errors == [f"{locked}: unreadable: Permission denied"]
    assert [f.accepted for f in report.files] == [1]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", "NaN"),
        ("temperature", "Infinity"),
        ("temperature", "1e400"),
        ("ts", "infinity"),
        ("ts", "-infinity"),
        ("ts", "epoch"),
        ("ts", "0000-01-01T00:00:00Z"),
        ("ts", "-0001-04-22T13:05:09Z"),
        ("ts", "2026-04-22T13:05:09+25:00"),
        ("ts", "1850-01-01T00:00:00Z"),
    ],
)
def test_12_garbage_is_quarantined(store: Store, tmp_path: Path, field: str, value: str) -> None:
    """NaN, Infinity, 1e400, ts "infinity"/"epoch", year 0000 or negative, +25:00 were stored."""
    line = json.dumps(exchange(1)).replace('"model"', f'"{field}": {_json(value)}, "model"')
    if field == "ts":
        line = json.dumps(exchange(1, ts=value))
    r = run(store, write_jsonl(tmp_path / "ex.jsonl", [line])).files[0]
    assert (r.accepted, r.quarantined) == (0, 1), store.sql("SELECT * FROM exchanges")
    assert store.scalar("SELECT reason FROM quarantine").startswith(f"{field}:")


def _json(value: str) -> str:
    return value if value in ("NaN", "Infinity", "1e400") else json.dumps(value)


def test_12_garbage_is_quarantined_in_csv_and_parquet_too(store: Store, tmp_path: Path) -> None:
    (tmp_path / "ex.csv").write_text(
        "event_id,ts,account_id,model,temperature\n"
        "e1,2026-04-22T00:00:00Z,a,m,NaN\n"
        "e2,epoch,a,m,0.5\n"
        "e3,2026-04-22T00:00:00Z,a,m,0.5\n"
    )
    table = pa.table(
        {
            "event_id": ["p1", "p2", "p3"],
            "ts": pa.array([0, 1776816000000, -9_000_000_000_000_000], pa.timestamp("ms", "UTC")),
            "account_id": ["a"] * 3,
            "model": ["m"] * 3,
            "temperature": [float("inf"), 0.5, 0.5],
        }
    )
    pq.write_table(table, tmp_path / "ex.parquet")
    report = run(store, tmp_path / "ex.csv", tmp_path / "ex.parquet")
    assert [(f.accepted, f.quarantined) for f in report.files] == [(1, 2), (1, 2)]


def test_12_lower_case_rfc3339_and_named_zones_are_accepted(store: Store, tmp_path: Path) -> None:
    """Lower-case t/z was quarantined; a named zone was counted as "no time zone"."""
    rows = [
        exchange(1, ts="2026-04-22t13:05:09z"),
        exchange(2, ts="2026-04-22 09:05:09 America/New_York"),
        exchange(3, ts="2026-04-22T13:05:09"),
        exchange(4, ts="2026-04-22T15:05:09+02:00"),
    ]
    r = run(store, write_jsonl(tmp_path / "ex.jsonl", rows)).files[0]
    assert (r.accepted, r.naive_timestamps, r.named_zones) == (4, 1, 1)
    assert any("named time zone" in w for w in r.warnings)
    times = {str(t) for (t,) in store.sql("SELECT DISTINCT ts FROM exchanges")}
    assert times == {"2026-04-22 13:05:09"}


def test_13_an_unknown_column_is_named_wherever_it_first_occurs(
    store: Store, tmp_path: Path
) -> None:
    """A column the schema does not know was named only if it occurred in the first 5,000
    rows (of a sample)."""
    rows: list[Any] = [exchange(i) for i in range(40_000)]
    rows[33_333] = exchange(33_333, colour="red")
    r = run(store, write_jsonl(tmp_path / "ex.jsonl", rows), batch_rows=40_000).files[0]
    assert r.unknown_columns == ["colour"] and r.accepted == 40_000


def test_scale_the_lookup_window_finds_every_duplicate(store: Store, tmp_path: Path) -> None:
    """The duplicate check looks only at stored rows near the batch in time (zone maps skip the
    rest of the store): a duplicate (same ts) is always found; a conflict is found within
    conflict_window of the batch's time span, and beyond it is stored beside the first."""
    old = [exchange(1, ts="2026-01-01T00:00:00Z"), exchange(2, ts="2026-04-22T00:00:00Z")]
    run(store, write_jsonl(tmp_path / "old.jsonl", old))
    new = [
        exchange(1, ts="2026-01-01T00:00:00Z"),  # duplicate, far from the rest of the batch
        exchange(2, ts="2026-04-22T10:00:00Z"),  # conflict 10 h away: inside a day's window
        exchange(3, ts="2026-04-22T10:00:00Z"),
    ]
    r = run(store, write_jsonl(tmp_path / "new.jsonl", new)).files[0]
    assert (r.accepted, r.duplicates, r.conflicts) == (1, 1, 1)
    late = [exchange(2, ts="2026-06-01T00:00:00Z", model="late")]  # 40 days on: beyond it
    sources_run = run(store, write_jsonl(tmp_path / "late.jsonl", late)).files[0]
    assert (sources_run.accepted, sources_run.conflicts) == (1, 0)
    assert store.scalar("SELECT count(*) FROM exchanges WHERE event_id = 'e2'") == 2
