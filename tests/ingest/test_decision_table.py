"""Every line of the schema's "What bad input gets" table."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from stillwatch.engine.store import Store
from tests.ingest.helpers import exchange, run, write_jsonl


def test_bad_rows_are_quarantined_with_line_reason_and_raw(store: Store, tmp_path: Path) -> None:
    f = write_jsonl(
        tmp_path / "ex.jsonl",
        [
            exchange(1),
            "not json at all",
            exchange(2, ts="yesterday"),
            {"ts": "2026-04-22T00:00:00Z", "account_id": "a", "model": "m"},
            exchange(3, ip="999.1.1.1"),
            exchange(4, turn_index="two"),
            exchange(5, ip="2001:db8::7"),
            exchange(6, ip="203.0.113.0/24"),
            exchange(7, thinking={"nested": True}),
        ],
    )
    report = run(store, f)
    r = report.files[0]
    assert (r.rows_read, r.accepted, r.quarantined) == (9, 3, 6)
    rows = store.sql("SELECT line, reason, raw FROM quarantine ORDER BY line")
    assert [x[0] for x in rows] == [2, 3, 4, 5, 6, 9]
    reasons = dict((x[0], x[1]) for x in rows)
    assert reasons[2] == "line is not valid JSON"
    assert reasons[3].startswith("ts: not a timestamp")
    assert reasons[4] == "missing event_id"
    assert "ip: not an IP address" in reasons[5]
    assert "turn_index: not an integer" in reasons[6]
    assert reasons[9].startswith("thinking: not true/false")
    assert rows[0][2] == "not json at all"
    assert store.scalar("SELECT count(*) FROM exchanges") == 3


def test_naive_timestamps_are_utc_and_counted(store: Store, tmp_path: Path) -> None:
    f = write_jsonl(
        tmp_path / "ex.jsonl",
        [
            exchange(1, ts="2026-04-22 13:05:09"),
            exchange(2, ts="2026-04-22T15:05:09+02:00"),
            exchange(3, ts=1776863109000),
        ],
    )
    r = run(store, f).files[0]
    assert r.naive_timestamps == 1
    assert any("without time zone" in w for w in r.warnings)
    ts = dict(store.sql("SELECT event_id, CAST(ts AS VARCHAR) FROM exchanges"))
    assert ts["e1"] == "2026-04-22 13:05:09"
    assert ts["e2"] == "2026-04-22 13:05:09"
    assert ts["e3"] == "2026-04-22 13:05:09"


def test_long_text_is_truncated_and_flagged(store: Store, tmp_path: Path) -> None:
    f = write_jsonl(
        tmp_path / "ex.jsonl", [exchange(1, prompt="é" * 100), exchange(2, prompt="ok")]
    )
    r = run(store, f, max_text_bytes=51).files[0]
    assert r.truncated == 1 and r.accepted == 2
    prompt, flags = store.sql("SELECT prompt, _truncated FROM exchanges WHERE event_id='e1'")[0]
    assert prompt == "é" * 25 and flags == ["prompt"]
    assert store.sql("SELECT _truncated FROM exchanges WHERE event_id='e2'")[0][0] is None


def test_unknown_columns_are_named_once(store: Store, tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "ex.jsonl", [exchange(i, colour="red", size=i) for i in range(5)])
    r = run(store, f).files[0]
    assert r.unknown_columns == ["colour", "size"]
    assert r.accepted == 5


def test_duplicates_and_conflicts(store: Store, tmp_path: Path) -> None:
    first = write_jsonl(tmp_path / "a.jsonl", [exchange(1), exchange(2)])
    run(store, first)
    second = write_jsonl(
        tmp_path / "b.jsonl",
        [exchange(1), exchange(2, model="other"), exchange(3), exchange(3), exchange(3, model="x")],
    )
    r = run(store, second).files[0]
    assert (r.rows_read, r.accepted, r.duplicates, r.conflicts, r.quarantined) == (5, 1, 2, 2, 0)
    assert r.add_up()
    conflicts = store.sql(
        "SELECT line, reason FROM quarantine WHERE reason LIKE 'conflict%' ORDER BY line"
    )
    assert [c[0] for c in conflicts] == [2, 5]
    assert "kept:" in conflicts[0][1] and "this row:" in conflicts[0][1]
    # the first version stays
    assert store.scalar("SELECT model FROM exchanges WHERE event_id = 'e2'") == "frontier-1"
    assert store.scalar("SELECT count(*) FROM exchanges") == 3


def test_account_rows_replace_and_keep_history(store: Store, tmp_path: Path) -> None:
    a1 = write_jsonl(
        tmp_path / "accounts1.jsonl",
        [{"account_id": "a1", "country": "US"}, {"account_id": "a2", "country": "DE"}],
    )
    a2 = write_jsonl(
        tmp_path / "accounts2.jsonl",
        [{"account_id": "a1", "country": "FR"}, {"account_id": "a2", "country": "DE"}],
    )
    run(store, accounts=[a1])
    r = run(store, accounts=[a2]).files[0]
    assert (r.accepted, r.duplicates, r.replaced) == (1, 1, 1)
    assert dict(store.sql("SELECT account_id, country FROM accounts")) == {"a1": "FR", "a2": "DE"}
    assert store.sql("SELECT account_id, country FROM accounts_history") == [("a1", "US")]


def test_bad_files_store_nothing(store: Store, tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "fake.parquet").write_text("this is not parquet")
    (tmp_path / "nohead.csv").write_text("event_id,account_id\ne1,a1\n")
    (tmp_path / "allbad.jsonl").write_text("a,b,c\n1,2,3\n")
    (tmp_path / "broken.jsonl.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    report = run(
        store,
        *[tmp_path / n for n in ("empty.jsonl", "fake.parquet", "nohead.csv", "allbad.jsonl")],
        tmp_path / "broken.jsonl.gz",
    )
    assert len(report.errors) == 5
    joined = "\n".join(report.errors)
    assert "empty.jsonl: empty file" in joined
    assert "fake.parquet: not a Parquet file" in joined
    assert "nohead.csv: required column(s) ts, model missing" in joined
    assert "allbad.jsonl: no line is a JSON object" in joined
    assert "broken.jsonl.gz: unreadable" in joined
    assert store.counts()["exchanges"] == 0
    assert store.counts()["quarantine"] == 0
    assert store.counts()["ingest_runs"] == 0


def test_formats_gzip_and_csv_records(store: Store, tmp_path: Path) -> None:
    csv_text = (
        "event_id,ts,account_id,model,prompt\n"
        'e1,2026-04-22T00:00:00Z,a1,m,"multi\nline"\n'
        "e2,2026-04-22T00:00:01Z,a1\n"
        "e3,not-a-time,a1,m,x\n"
        "e4,1776816000000,a2,m,\n"
    )
    with gzip.open(tmp_path / "ex.csv.gz", "wt") as f:
        f.write(csv_text)
    r = run(store, tmp_path / "ex.csv.gz").files[0]
    assert (r.rows_read, r.accepted, r.quarantined) == (4, 2, 2)
    assert store.scalar("SELECT prompt FROM exchanges WHERE event_id='e1'") == "multi\nline"
    assert store.scalar("SELECT prompt FROM exchanges WHERE event_id='e4'") is None
    lines = store.sql("SELECT line, reason FROM quarantine ORDER BY line")
    assert lines[0][1].startswith("CSV record has 3 fields")
    assert "ts: not a timestamp" in lines[1][1]


def test_parquet_typed_columns(store: Store, tmp_path: Path) -> None:
    table = pa.table(
        {
            "event_id": ["e1", "e2", None],
            "ts": pa.array(
                [1776816000000, 1776816001000, 1776816002000], pa.timestamp("ms", "UTC")
            ),
            "account_id": ["a", "b", "c"],
            "model": ["m", "m", "m"],
            "turn_index": pa.array([0, 1, 2], pa.int32()),
            "temperature": pa.array([0.5, None, 1.0], pa.float32()),
            "thinking": [True, False, None],
        }
    )
    pq.write_table(table, tmp_path / "ex.parquet")
    r = run(store, tmp_path / "ex.parquet").files[0]
    assert (r.rows_read, r.accepted, r.quarantined) == (3, 2, 1)
    assert store.sql("SELECT line, reason FROM quarantine") == [(3, "missing event_id")]
    assert r.naive_timestamps == 0


def test_json_objects_where_text_belongs_are_wrong_types(store: Store, tmp_path: Path) -> None:
    f = write_jsonl(
        tmp_path / "ex.jsonl",
        [
            exchange(1, prompt={"role": "user"}),
            exchange(2, model=True),
            exchange(3, prompt="[not json, just text"),
            exchange(4, prompt="true"),
            exchange(5, account_id=12345),
        ],
    )
    r = run(store, f).files[0]
    assert (r.accepted, r.quarantined) == (3, 2)
    reasons = [x[0] for x in store.sql("SELECT reason FROM quarantine ORDER BY line")]
    assert reasons == ["prompt: wrong type, got object", "model: wrong type, got boolean"]
    assert store.scalar("SELECT account_id FROM exchanges WHERE event_id = 'e5'") == "12345"


def test_byte_order_marks_are_not_data(store: Store, tmp_path: Path) -> None:
    (tmp_path / "ex.jsonl").write_bytes(
        b'\xef\xbb\xbf{"event_id":"e1","ts":"2026-04-22T00:00:00Z","account_id":"a","model":"m"}\n'
    )
    (tmp_path / "ex.csv").write_bytes(
        b"\xef\xbb\xbfevent_id,ts,account_id,model\ne2,2026-04-22T00:00:00Z,a,m\n"
    )
    report = run(store, tmp_path / "ex.jsonl", tmp_path / "ex.csv")
    assert not report.errors
    assert [f.accepted for f in report.files] == [1, 1]


def test_parquet_duplicates_and_conflicts(store: Store, tmp_path: Path) -> None:
    rows = [exchange(1), exchange(2), exchange(1), exchange(2, model="other"), exchange(3)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "a.parquet", row_group_size=2)
    r = run(store, tmp_path / "a.parquet", batch_rows=2).files[0]
    assert (r.rows_read, r.accepted, r.duplicates, r.conflicts) == (5, 3, 1, 1)
    assert store.sql("SELECT line FROM quarantine") == [(4,)]
    # every row names every column: pyarrow takes the columns from the first row
    again = [exchange(3, ip=None), exchange(4, ip="300.1.1.1"), exchange(5, ip="10.0.0.1")]
    pq.write_table(pa.Table.from_pylist(again), tmp_path / "b.parquet")
    r = run(store, tmp_path / "b.parquet").files[0]
    assert (r.accepted, r.duplicates, r.conflicts, r.quarantined) == (1, 1, 0, 1)
    assert store.scalar("SELECT count(*) FROM exchanges") == 4
    assert store.scalar("SELECT model FROM exchanges WHERE event_id = 'e2'") == "frontier-1"
