"""Every documented column survives ingest, in every format, gzip or not."""

from __future__ import annotations

import csv
import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from stillwatch.engine.store import open_store
from stillwatch.schema import ACCOUNTS, ENFORCEMENTS, EXCHANGES, Table
from tests.ingest.helpers import run

TS = datetime(2026, 4, 22, 13, 5, 9, 123000, tzinfo=UTC)
SAMPLE: dict[str, Any] = {
    "string": 'välue 中文 "quoted", with comma',
    "timestamp": TS,
    "int": 4096,
    "float": 0.7,
    "bool": True,
    "ip": "2001:db8::/48",
}
OVERRIDES = {"ip": "203.0.113.7", "signup_ip": "198.51.100.0/24", "action": "ban"}


def _value(kind: str, i: int) -> Any:
    """Row ``i``'s value of a column kind: every row differs in every column."""
    v = SAMPLE[kind]
    if kind == "string":
        return f"{v} #{i}"
    if kind == "timestamp":
        return v + timedelta(seconds=i)
    if kind in ("int", "float"):
        return v + i
    if kind == "bool":
        return i % 2 == 0
    return v


def _row(table: Table, i: int) -> dict[str, Any]:
    row = {c.name: OVERRIDES.get(c.name, _value(c.kind, i)) for c in table.columns}
    for key in table.key:
        if table.column(key).kind == "string":
            row[key] = f"{key}-{i}"
    return row


def _text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


def _write(table: Table, rows: list[dict[str, Any]], path: Path, fmt: str) -> None:
    opener = gzip.open if path.suffix == ".gz" else open
    if fmt == "parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    elif fmt == "jsonl":
        with opener(path, "wt", encoding="utf-8") as f:  # type: ignore[operator]
            for r in rows:
                f.write(json.dumps({k: _text(v) for k, v in r.items()}) + "\n")
    else:
        with opener(path, "wt", encoding="utf-8", newline="") as f:  # type: ignore[operator]
            w = csv.DictWriter(f, fieldnames=table.names)
            w.writeheader()
            for r in rows:
                w.writerow(
                    {
                        k: str(_text(v)).lower() if isinstance(v, bool) else _text(v)
                        for k, v in r.items()
                    }
                )


@pytest.mark.parametrize("name", ["parquet", "jsonl", "csv", "jsonl.gz", "csv.gz"])
def test_every_column_round_trips(tmp_path: Path, name: str) -> None:
    fmt = name.split(".")[0]
    data = tmp_path / "data"
    data.mkdir()
    for table in (EXCHANGES, ACCOUNTS, ENFORCEMENTS):
        _write(table, [_row(table, i) for i in range(3)], data / f"{table.name}.{name}", fmt)
    (data / "labels_accounts.jsonl").write_text('{"account_id": "x"}\n')
    with open_store(tmp_path / "s.duckdb") as store:
        report = run(store, data)
        assert not report.errors
        assert {f.table: f.accepted for f in report.files} == {
            "exchanges": 3, "accounts": 3, "enforcements": 3
        }  # fmt: skip
        for table in (EXCHANGES, ACCOUNTS, ENFORCEMENTS):
            stored = store.con.execute(
                f"SELECT {', '.join(table.names)} FROM {table.name} ORDER BY 1"
            ).fetchall()
            assert len(stored) == 3
            for i, row in enumerate(stored):  # ordered by the key, which holds i
                want = _row(table, i)
                got = dict(zip(table.names, row, strict=True))
                for col in table.columns:
                    expected = want[col.name]
                    if col.kind == "timestamp":
                        expected = expected.replace(tzinfo=None)
                    if col.kind == "float":
                        assert got[col.name] == pytest.approx(expected), (table.name, col.name, i)
                    else:
                        assert got[col.name] == expected, (table.name, col.name, i)
