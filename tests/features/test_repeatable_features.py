"""The same exchanges give the same features in every run, to the last bit: the scan's output
must not depend on the order in which DuckDB's threads finish (its parallel ``stddev_pop``
differed in the last bits from run to run on a few hundred of 11,612 accounts)."""

from __future__ import annotations

from datetime import datetime

import duckdb
import ibis
import numpy as np
import pyarrow as pa

from stillwatch.features.rhythm import rhythm_features
from stillwatch.features.sources import Sources
from stillwatch.features.volume import volume_features


def _sources(rows: int = 400_000, accounts: int = 400) -> Sources:
    rng = np.random.default_rng(7)
    start = np.datetime64(datetime(2026, 4, 20), "us")
    # bursts of irregular gaps over 45 days: variances far from zero, many rows per account
    offsets = rng.integers(0, 45 * 86_400 * 10**6, size=rows) // rng.integers(1, 4, size=rows)
    exchanges = pa.table(
        {
            "event_id": pa.array([f"e{i}" for i in range(rows)]),
            "account_id": pa.array([f"a{i}" for i in rng.integers(0, accounts, size=rows)]),
            "ts": pa.array(start + offsets.astype("timedelta64[us]"), pa.timestamp("us")),
            "input_tokens": pa.array(rng.integers(1, 5_000, size=rows)),
            "output_tokens": pa.array(rng.integers(1, 5_000, size=rows)),
        }
    )
    db = duckdb.connect(config={"threads": 2})
    db.register("exchanges_in", exchanges)
    db.execute("CREATE TABLE exchanges AS SELECT * FROM exchanges_in")
    ex = ibis.duckdb.from_connection(db).table("exchanges")
    for column, kind in (("model", "string"), ("conversation_id", "string"),
                         ("reasoning_tokens", "int64"), ("max_tokens", "int64"),
                         ("thinking", "boolean"), ("tools_count", "int64"), ("status", "string"),
                         ("ip", "string"), ("asn", "int64")):  # fmt: skip
        ex = ex.mutate(**{column: ibis.null(kind)})
    empty = ibis.memtable(pa.table({"account_id": pa.array([], pa.string())}))
    return Sources(ex, empty, empty)


def test_rhythm_and_volume_features_repeat_to_the_last_bit() -> None:
    src = _sources()
    runs = [
        (
            volume_features(src).order_by("account_id").to_pyarrow(),
            rhythm_features(src).order_by("account_id").to_pyarrow(),
        )
        for _ in range(4)
    ]
    volume, rhythm = runs[0]
    assert volume.num_rows == 400 and rhythm.num_rows == 400
    assert all(v > 0 for v in volume.column("daily_volume_cv").to_pylist())
    assert all(v > 0 for v in rhythm.column("interarrival_cv").to_pylist())
    for other in runs[1:]:
        assert other[0].equals(volume) and other[1].equals(rhythm)
