"""The rules decided in docs/bad-input.md ("Decided here"), each across the readers."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from stillwatch.engine.store import Store
from tests.ingest.helpers import exchange, run, write_jsonl

HEAD = "event_id,ts,account_id,model"
TS = "2026-04-22T00:00:00Z"


def _reasons(store: Store) -> dict[int, str]:
    return dict(store.sql("SELECT line, reason FROM quarantine"))


def test_integers_are_plain_digits_and_not_negative(store: Store, tmp_path: Path) -> None:
    values = ["0x1F", "1_000", "1e3", "12.0", "+5", "-3", " 7 ", "12"]
    (tmp_path / "ex.csv").write_text(
        f"{HEAD},input_tokens\n" + "".join(f"c{i},{TS},a,m,{v}\n" for i, v in enumerate(values))
    )
    lines = [
        json.dumps(exchange(i)).replace('"model"', f'"input_tokens": {v}, "model"')
        for i, v in enumerate(["1e3", "12.0", "-3", "12", '"12"'])
    ]
    write_jsonl(tmp_path / "ex.jsonl", lines)
    pq.write_table(
        pa.table(
            {
                "event_id": ["p1", "p2", "p3"],
                "ts": [TS] * 3,
                "account_id": ["a"] * 3,
                "model": ["m"] * 3,
                "input_tokens": [12.0, 12.5, -1.0],
            }
        ),
        tmp_path / "ex.parquet",
    )
    report = run(store, tmp_path / "ex.csv", tmp_path / "ex.jsonl", tmp_path / "ex.parquet")
    assert [(f.accepted, f.quarantined) for f in report.files] == [(2, 6), (2, 3), (1, 2)]
    stored = sorted(r[0] for r in store.sql("SELECT input_tokens FROM exchanges"))
    assert stored == [7, 12, 12, 12, 12]
    reasons = [r[0] for r in store.sql("SELECT reason FROM quarantine")]
    assert sum("negative" in r for r in reasons) == 3


def test_empty_text_is_absent_in_every_format(store: Store, tmp_path: Path) -> None:
    write_jsonl(tmp_path / "ex.jsonl", [exchange(1, ip="", prompt=""), exchange(2, model="")])
    (tmp_path / "ex.csv").write_text(f"{HEAD},ip,prompt\nc1,{TS},a,m,,\nc2,{TS},a,,,\n")
    pq.write_table(
        pa.table(
            {
                "event_id": ["p1", "p2"],
                "ts": [TS] * 2,
                "account_id": ["a"] * 2,
                "model": ["m", ""],
                "ip": ["", ""],
            }
        ),
        tmp_path / "ex.parquet",
    )
    report = run(store, tmp_path / "ex.jsonl", tmp_path / "ex.csv", tmp_path / "ex.parquet")
    assert [(f.accepted, f.quarantined) for f in report.files] == [(1, 1)] * 3
    assert store.sql("SELECT DISTINCT ip, prompt FROM exchanges") == [(None, None)]
    assert {r[0] for r in store.sql("SELECT reason FROM quarantine")} == {"missing model"}


def test_repeated_json_keys_are_quarantined(store: Store, tmp_path: Path) -> None:
    fine = json.dumps(exchange(1))
    twice = fine[:-1] + ', "account_id": "other"}'
    r = run(store, write_jsonl(tmp_path / "ex.jsonl", [fine, twice, fine])).files[0]
    assert (r.accepted, r.duplicates, r.quarantined) == (1, 1, 1)
    assert _reasons(store) == {2: "repeated key(s) account_id"}


def test_repeated_parquet_columns_are_a_file_error(store: Store, tmp_path: Path) -> None:
    table = pa.Table.from_arrays(
        [pa.array(["e1"]), pa.array([TS]), pa.array(["a"]), pa.array(["b"]), pa.array(["m"])],
        names=["event_id", "ts", "account_id", "account_id", "model"],
    )
    pq.write_table(table, tmp_path / "ex.parquet")
    report = run(store, tmp_path / "ex.parquet")
    assert report.errors == [
        f"{tmp_path / 'ex.parquet'}: column name(s) account_id repeated "
        "(expected a Parquet file naming each column once)"
    ]
    assert store.counts()["exchanges"] == 0


def test_unlisted_enforcement_actions_are_kept_and_counted(store: Store, tmp_path: Path) -> None:
    rows = [
        {"account_id": "a", "ts": TS, "action": "ban"},
        {"account_id": "a", "ts": TS, "action": "warn"},
    ]
    r = run(store, enforcements=[str(write_jsonl(tmp_path / "enf.jsonl", rows))]).files[0]
    assert (r.accepted, r.unlisted_actions) == (2, 1)
    assert any("action other than" in w for w in r.warnings)


def test_csv_lines_are_physical_lines(store: Store, tmp_path: Path) -> None:
    (tmp_path / "ex.csv").write_text(
        f"{HEAD},prompt,note\n"  # line 1; "note" is unknown: its line breaks count too
        f'c1,{TS},a,m,"one\ntwo",x\n'  # lines 2-3
        f'c2,bad,a,m,fine,"a\nb\nc"\n'  # lines 4-6: quarantined, line 4
        f"c3,{TS},a,m,too,many,fields\n"  # line 7: skipped by the reader
        f'c4,{TS},a,m,"x\ny",\n'  # lines 8-9
        f"c5,bad,a,m,,\n"  # line 10
    )
    r = run(store, tmp_path / "ex.csv", batch_rows=2).files[0]
    assert (r.accepted, r.quarantined) == (2, 3)
    assert sorted(_reasons(store)) == [4, 7, 10]
