"""IsolationForest isolates the few accounts unlike the rest, and flags them together."""

from __future__ import annotations

import numpy as np
import pytest

from stillwatch.bench.baselines.isolation_forest import IsolationForestBaseline
from tests.bench.planted_traffic import at, dataset


def _planted() -> list[dict]:
    rng = np.random.default_rng(5)
    rows: list[dict] = []
    # 150 ordinary users: a handful of daytime requests, short answers.
    for k in range(150):
        for j in range(int(rng.integers(3, 8))):
            rows.append({"account_id": f"user{k}", "ts": at(24 * j + rng.uniform(9, 18)),
                         "ip": f"10.{k}.0.1", "output_tokens": int(rng.integers(100, 400)),
                         "status": "ok"})  # fmt: skip
    # Four harvesters: around the clock, long reasoning answers, many networks.
    for k in range(4):
        for j in range(200):
            rows.append({"account_id": f"harvester{k}", "ts": at(j * 0.7),
                         "ip": f"45.{j % 50}.{k}.1", "output_tokens": 4000,
                         "reasoning_tokens": 8000, "thinking": True, "status": "ok"})  # fmt: skip
    return rows


def test_outlying_accounts_score_highest_and_are_flagged():
    result = IsolationForestBaseline().run(dataset(_planted()))
    scores = result.account_scores.as_dict()
    harvesters = {f"harvester{k}" for k in range(4)}
    top = sorted(scores, key=scores.__getitem__, reverse=True)[:4]
    assert set(top) == harvesters
    # The anomaly score of the paper lies in (0, 1]; 0.5 is "nothing stands out".
    values = result.account_scores.values
    assert values.min() > 0 and values.max() <= 1
    assert np.median(values) < 0.5
    assert len(result.campaigns) == 1
    flagged = set(result.campaigns[0].accounts)
    assert harvesters <= flagged
    # A few ordinary users are unusual enough too: isolation's known false positives.
    assert len(flagged - harvesters) <= 0.05 * 150


def test_same_seed_same_scores():
    data = _planted()
    first = IsolationForestBaseline(seed=3).run(dataset(data)).account_scores.values
    again = IsolationForestBaseline(seed=3).run(dataset(data)).account_scores.values
    assert np.array_equal(first, again)


def test_parameters_are_checked_up_front():
    with pytest.raises(ValueError, match=r"threshold must be a number in \[0, 1\]; got 2"):
        IsolationForestBaseline(threshold=2)
