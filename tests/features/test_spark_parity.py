"""The same feature expressions on PySpark (local mode) and on DuckDB give the same values.

Tolerance: counts and booleans exactly; floating-point values within 1e-6 relative (or 1e-9
absolute), since the engines sum and divide in different orders. Spark's session time zone is
UTC, as is the store's.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Iterator
from typing import Any

import duckdb
import ibis
import pyarrow as pa
import pytest

from stillwatch.features.account import account_days, account_features
from stillwatch.features.sources import Sources
from stillwatch.schema import CANONICAL, Table
from tests.planted import planted

pytest.importorskip("pyspark", reason="PySpark is in the lock file; install it to run")
if shutil.which("java") is None:  # scripts/install.sh installs a JRE
    pytest.skip("no java on PATH", allow_module_level=True)

REL, ABS = 1e-6, 1e-9


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    p = planted()
    return {
        name: _canonical(rows, CANONICAL[name])
        for name, rows in (("exchanges", p.exchanges), ("accounts", p.accounts),
                           ("enforcements", p.enforcements))
    }  # fmt: skip


ARROW = {"string": pa.string(), "ip": pa.string(), "timestamp": pa.timestamp("us"),
         "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}  # fmt: skip


def _canonical(rows: list[dict[str, Any]], table: Table) -> pa.Table:
    """Every canonical column, typed as the store types it; absent ones all NULL."""
    schema = pa.schema([(c.name, ARROW[c.kind]) for c in table.columns])
    return pa.Table.from_pylist([{c: r.get(c) for c in schema.names} for r in rows], schema)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from pyspark.sql import SparkSession

    # Python datetimes handed to Spark are read in the process's zone: make it UTC too.
    old_tz = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()

    session = (
        SparkSession.builder.master("local[1]")
        .appName("stillwatch-parity")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    yield session
    session.stop()
    if old_tz is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old_tz
    time.tzset()


def _rows(expr: ibis.Table, key: list[str]) -> list[dict[str, Any]]:
    rows = expr.to_pyarrow().to_pylist()
    return sorted(rows, key=lambda r: tuple(str(r[k]) for k in key))


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        if math.isnan(a) and math.isnan(b):
            return True
        return math.isclose(float(a), float(b), rel_tol=REL, abs_tol=ABS)
    if hasattr(a, "hour") and hasattr(b, "hour"):
        return a.replace(tzinfo=None) == b.replace(tzinfo=None)
    return bool(a == b)


def test_features_agree_on_duckdb_and_pyspark(tables: dict[str, pa.Table], spark: Any) -> None:
    raw = duckdb.connect(":memory:")
    for name, t in tables.items():
        raw.register("_t", t)
        raw.execute(f"CREATE TABLE {name} AS SELECT * FROM _t")
        raw.unregister("_t")
    duck = ibis.duckdb.from_connection(raw)
    from pyspark.sql.pandas.types import from_arrow_schema

    sc = ibis.pyspark.connect(spark)
    for name, t in tables.items():
        frame = spark.createDataFrame(t.to_pylist(), schema=from_arrow_schema(t.schema))
        frame.createOrReplaceTempView(name)
    for build, key in ((account_features, ["account_id"]), (account_days, ["account_id", "day"])):
        want = _rows(build(Sources.from_backend(duck)), key)
        got = _rows(build(Sources.from_backend(sc)), key)
        assert len(got) == len(want) > 0
        for w, g in zip(want, got, strict=True):
            assert set(w) == set(g)
            bad = {c: (w[c], g[c]) for c in w if not _same(w[c], g[c])}
            assert not bad, f"{build.__name__} {w['account_id']}: {bad}"
