"""``bench perf`` scores the scan it timed against the data set's ground truth, as ``bench
quality`` does, so the large scale's detection figures come from the same command as its
times."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from stillwatch.bench.dataset import has_ground_truth
from stillwatch.bench.perf import _quality
from stillwatch.cli.bench_perf import quality_lines
from stillwatch.engine.store import open_store
from tests.bench.planted_traffic import accounts, at, exchanges

# Five campaign accounts (c0-c4, 4 exchanges each) and five legitimate ones (l0-l4).
CAMPAIGN = [f"c{i}" for i in range(5)]
LEGIT = [f"l{i}" for i in range(5)]


def _data_set(folder: Path) -> None:
    rows = [
        {"event_id": f"{a}-{k}", "account_id": a, "ts": at(24 * k + i)}
        for i, a in enumerate(CAMPAIGN + LEGIT)
        for k in range(4)
    ]
    pq.write_table(exchanges(rows), folder / "exchanges.parquet")
    pq.write_table(
        accounts([{"account_id": a, "created_at": at(-24)} for a in CAMPAIGN + LEGIT]),
        folder / "accounts.parquet",
    )
    pq.write_table(
        pa.table({
            "account_id": CAMPAIGN + LEGIT,
            "operator_id": ["op1"] * 5 + [None] * 5,
            "campaign_id": ["cmp_true"] * 5 + [None] * 5,
            "kind": ["campaign"] * 5 + ["benign"] * 5,
        }),
        folder / "labels_accounts.parquet",
    )  # fmt: skip
    campaign_events = [r["event_id"] for r in rows if r["account_id"] in CAMPAIGN]
    pq.write_table(
        pa.table({"event_id": campaign_events, "campaign_id": ["cmp_true"] * 20}),
        folder / "labels_exchanges.parquet",
    )


def _scan(store_path: Path) -> None:
    """A scan that reports one campaign: three of the campaign's accounts and one legitimate
    account, 18 exchanges estimated (interval 15-22)."""
    members = ["c0", "c1", "c2", "l0"]
    with open_store(store_path) as store:
        con = store.con
        con.execute("INSERT INTO scans (scan_id, status) VALUES ('s1', 'done')")
        for a in CAMPAIGN + LEGIT:
            score = 0.9 if a in members else (0.4 if a == "c3" else 0.1)
            con.execute(
                "INSERT INTO account_scores (scan_id, account_id, score) VALUES ('s1', ?, ?)",
                [a, score],
            )
        con.execute(
            """INSERT INTO campaigns (scan_id, campaign_id, operator_id, status, accounts,
               accounts_low, accounts_high, exchanges, exchanges_low, exchanges_high,
               member_exchanges, first_seen, last_seen, capabilities)
               VALUES ('s1', 'cmp_found', 'op_a', 'reported', 4, 3, 5, 18, 15, 22, 16,
                       DATE '2026-04-22', DATE '2026-04-25', ?)""",
            [json.dumps({})],
        )
        for a in members:
            con.execute(
                "INSERT INTO campaign_members (scan_id, campaign_id, account_id) "
                "VALUES ('s1', 'cmp_found', ?)",
                [a],
            )


def test_perf_scores_the_scan_it_timed_against_the_ground_truth(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _data_set(data)
    assert has_ground_truth(data)
    _scan(tmp_path / "store.duckdb")

    q = _quality(str(data), str(tmp_path / "store.duckdb"), "s1", "1GB")

    assert q["campaign_accounts"] == 5 and q["legitimate_accounts"] == 5
    assert q["recall"] == 3 / 5
    assert q["precision"] == 3 / 4
    assert q["false_positives"] == 1
    assert q["fp_per_10k"] is None  # too few legitimate accounts for a rate
    (size,) = q["campaign_sizes"]
    assert size["matched"] and size["true_exchanges"] == 20
    assert size["estimated_exchanges"] == 18 and size["exchanges_interval"] == (15, 22)
    assert abs(q["exchanges_relative_error"] - 0.1) < 1e-9
    lines = quality_lines(q)
    assert "recall 0.600 (3 of 5 campaign accounts)" in lines[0]
    assert "18 exchanges [15–22] (truth 20)" in lines[1]


def test_a_data_set_without_ground_truth_is_not_scored(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _data_set(data)
    (data / "labels_exchanges.parquet").unlink()
    assert not has_ground_truth(data)
