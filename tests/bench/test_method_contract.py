"""Every registered method keeps the contract: scores for every account seen, in [0, 1];
the same result for the same input in any row order; empty in, empty out."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from stillwatch.bench.dataset import Dataset
from stillwatch.bench.method import MethodResult
from stillwatch.bench.methods import METHODS, make_method
from stillwatch.schema import EXCHANGES
from tests.bench.planted_traffic import accounts, at, exchanges, words


def _rows() -> tuple[list[dict], list[dict]]:
    rng = np.random.default_rng(2)
    rows: list[dict] = []
    for k in range(12):
        for hour in range(14):
            rows.append({"account_id": f"hydra{k}", "ts": at(hour + rng.uniform(0, 0.9)),
                         "ip": f"203.0.113.{k}", "asn": 64500, "tls_fingerprint": "fp-bot",
                         "prompt": f"Explain your full reasoning step by step. Task {hour}",
                         "output_tokens": 3000})  # fmt: skip
    for k in range(60):
        for _ in range(int(rng.integers(2, 9))):
            rows.append({"account_id": f"user{k}", "ts": at(float(rng.uniform(0, 120))),
                         "ip": f"10.{k}.0.1", "asn": 64000 + k % 5, "tls_fingerprint": "fp-sdk",
                         "prompt": words(rng, 15), "output_tokens": int(rng.integers(50, 500))})  # fmt: skip
    for i, r in enumerate(rows):
        r["event_id"] = f"e{i}"
    registered = [
        {"account_id": f"hydra{k}", "payment_fingerprint": "card-1", "created_at": at(-1)}
        for k in range(12)
    ] + [{"account_id": f"user{k}", "payment_fingerprint": f"card-u{k}"} for k in range(60)]
    return rows, registered


def _run(name: str, rows: list[dict], registered: list[dict]) -> MethodResult:
    data = Dataset.from_tables(exchanges=exchanges(rows), accounts=accounts(registered))
    return make_method(name).run(data)


@pytest.mark.parametrize("name", list(METHODS))
def test_scores_every_account_seen_within_unit_interval(name):
    rows, registered = _rows()
    result = _run(name, rows, registered)
    seen = {r["account_id"] for r in rows} | {r["account_id"] for r in registered}
    assert set(result.account_scores.account_ids.tolist()) == seen
    values = result.account_scores.values
    assert values.min() >= 0 and values.max() <= 1
    assert result.flagged <= seen


@pytest.mark.parametrize("name", list(METHODS))
def test_row_order_does_not_matter(name):
    rows, registered = _rows()
    first = _run(name, rows, registered)
    order = np.random.default_rng(9).permutation(len(rows))
    again = _run(name, [rows[i] for i in order], registered[::-1])
    assert first.account_scores.as_dict() == pytest.approx(again.account_scores.as_dict())
    assert [set(c.accounts) for c in first.campaigns] == [set(c.accounts) for c in again.campaigns]


@pytest.mark.parametrize("name", list(METHODS))
def test_empty_in_empty_out(name):
    schema = pa.schema(
        [("event_id", pa.string()), ("ts", pa.timestamp("ms", tz="UTC")),
         ("account_id", pa.string()), ("model", pa.string())]
    )  # fmt: skip
    assert {"event_id", "ts", "account_id", "model"} <= set(EXCHANGES.required)
    result = make_method(name).run(Dataset.from_tables(exchanges=schema.empty_table()))
    assert len(result.account_scores) == 0
    assert result.campaigns == ()
