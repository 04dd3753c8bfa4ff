"""Tiny planted traffic for the baselines' defining-behaviour tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from stillwatch.bench.dataset import Dataset

START = datetime(2026, 4, 22, tzinfo=UTC)
TS = pa.timestamp("ms", tz="UTC")


def exchanges(rows: Sequence[dict[str, Any]]) -> pa.Table:
    """An exchanges table from dicts with at least ``account_id`` and ``ts``."""
    columns: dict[str, list[Any]] = {}
    keys = sorted({k for r in rows for k in r})
    for k in keys:
        columns[k] = [r.get(k) for r in rows]
    columns.setdefault("event_id", [f"e{i}" for i in range(len(rows))])
    columns.setdefault("model", ["model-a"] * len(rows))
    arrays = {k: pa.array(v, type=TS if k == "ts" else None) for k, v in columns.items()}
    return pa.table(arrays)


def accounts(rows: Sequence[dict[str, Any]]) -> pa.Table:
    keys = sorted({k for r in rows for k in r})
    return pa.table(
        {
            k: pa.array([r.get(k) for r in rows], type=TS if k == "created_at" else None)
            for k in keys
        }
    )


def at(hours: float) -> datetime:
    return START + timedelta(hours=hours)


def dataset(exchange_rows: Sequence[dict[str, Any]], account_rows: Sequence[dict[str, Any]] = ()
            ) -> Dataset:  # fmt: skip
    tables = {"exchanges": exchanges(exchange_rows)}
    if account_rows:
        tables["accounts"] = accounts(account_rows)
    return Dataset.from_tables(**tables)


def words(rng: np.random.Generator, n: int, vocabulary: int = 5000) -> str:
    return " ".join(f"w{int(i)}" for i in rng.integers(0, vocabulary, n))
