"""Arbitrary bytes and arbitrary rows: no crash, and every row accounted for."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from stillwatch.engine.store import open_store
from stillwatch.errors import InputError
from stillwatch.schema import EXCHANGES
from tests.ingest.helpers import run

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(["2026-04-22T13:05:09Z", "1776816000000", "10.0.0.1", "::1", "1.2.3.4/8"]),
)
_values = st.one_of(
    _scalars,
    st.lists(_scalars, max_size=2),
    st.dictionaries(st.text(max_size=3), _scalars, max_size=2),
)
_rows = st.dictionaries(
    st.sampled_from([*EXCHANGES.names, "extra"]), _values, max_size=len(EXCHANGES.names)
)


def _check(path: Path) -> None:
    with tempfile.TemporaryDirectory() as d, open_store(Path(d) / "s.duckdb") as store:
        _accounted(store, run(store, path, batch_rows=5), path)


def _accounted(store: Any, report: Any, path: Path) -> None:
    """Every row accounted for, or a whole-file error (one line naming the file) and nothing
    stored."""
    if report.errors:
        assert all(e.startswith(str(path)) and "\n" not in e for e in report.errors)
        assert store.counts()["exchanges"] == 0
        assert store.counts()["quarantine"] == 0
        return
    r = report.files[0]
    assert r.add_up()
    assert store.counts()["exchanges"] == r.accepted
    assert store.counts()["quarantine"] == r.quarantined + r.conflicts


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400), st.sampled_from(["jsonl", "csv", "parquet", "jsonl.gz"]))
@example(b"\xef\xbb\xbf\n", "csv")  # a byte order mark and nothing else
@example(b'"\n', "csv")
def test_arbitrary_bytes(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"exchanges.{suffix}"
        path.write_bytes(data)
        with open_store(Path(d) / "s.duckdb") as store:
            try:
                report = run(store, path, batch_rows=5)
            except InputError as exc:  # a whole-file error: one line that names the file
                assert exc.path == str(path) and str(exc).startswith(str(path))
                assert exc.problem and "\n" not in str(exc)
                assert store.counts()["exchanges"] == 0  # and nothing was stored
                assert store.counts()["quarantine"] == 0
                return
            _accounted(store, report, path)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_rows, max_size=12), st.lists(st.integers(0, 11), max_size=4))
def test_arbitrary_rows(rows: list[dict[str, Any]], repeats: list[int]) -> None:
    lines = [json.dumps(r) for r in rows]
    lines += [lines[i] for i in repeats if i < len(lines)]  # exact repeats: duplicates
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "exchanges.jsonl"
        path.write_text("\n".join(lines) + "\n")
        if not rows:
            path.write_text("{}\n")
        _check(path)
