"""SynchroTrap links accounts acting on one constraint in the same time buckets, and only those."""

from __future__ import annotations

import numpy as np
import pytest

from stillwatch.bench.baselines.synchrotrap import SynchroTrap
from tests.bench.planted_traffic import at, dataset

# The planted cases carry addresses, not ASNs: synchrony on the /24 and client.
ON_PREFIX = {"constraints": ("ip_prefix+tls_fingerprint",), "min_shared_buckets": 3}


def _planted() -> list[dict]:
    rng = np.random.default_rng(7)
    rows: list[dict] = []
    # A hydra: six accounts on one /24 with one client, busy in the same twelve hours.
    for k in range(6):
        for hour in range(12):
            rows.append({"account_id": f"hydra{k}", "ts": at(hour + rng.uniform(0, 0.9)),
                         "ip": f"203.0.113.{10 + k}", "tls_fingerprint": "fp-bot"})  # fmt: skip
    # Rotating residential addresses: the same twelve hours, a new network every time.
    for k in range(4):
        for hour in range(12):
            rows.append({"account_id": f"rotator{k}", "ts": at(hour + 0.5),
                         "ip": f"100.{k}.{hour}.9", "tls_fingerprint": "fp-bot"})  # fmt: skip
    # Four accounts behind one NAT address, each busy on its own day.
    for k in range(4):
        for hour in range(6):
            rows.append({"account_id": f"nat{k}", "ts": at(24 * (k + 1) + hour),
                         "ip": "198.51.100.7", "tls_fingerprint": "fp-sdk"})  # fmt: skip
    # Ordinary users, each on its own network at its own times.
    for k in range(20):
        for hour in rng.choice(24 * 5, size=8, replace=False):
            rows.append({"account_id": f"user{k}", "ts": at(float(hour)),
                         "ip": f"10.{k}.0.1", "tls_fingerprint": "fp-sdk"})  # fmt: skip
    return rows


def test_synchronized_accounts_on_one_constraint_form_one_campaign():
    result = SynchroTrap(**ON_PREFIX, min_similarity=0.5).run(dataset(_planted()))
    assert [set(c.accounts) for c in result.campaigns] == [{f"hydra{k}" for k in range(6)}]
    scores = result.account_scores.as_dict()
    assert all(scores[f"hydra{k}"] == pytest.approx(1.0) for k in range(6))
    # Same address at different times, or same times on different networks: no synchrony.
    assert all(scores[f"nat{k}"] == 0.0 for k in range(4))
    assert all(scores[f"rotator{k}"] == 0.0 for k in range(4))
    assert max(scores[f"user{k}"] for k in range(20)) == 0.0


def test_half_synchronized_accounts_fall_below_the_threshold():
    rows = []
    for k in range(3):
        for hour in range(12):
            # Each account shares hours 0-5 with the others, then runs alone for 6 hours.
            t = hour if hour < 6 else 100 * (k + 1) + hour
            rows.append({"account_id": f"a{k}", "ts": at(t), "ip": "203.0.113.1",
                         "tls_fingerprint": "fp"})  # fmt: skip
    result = SynchroTrap(**ON_PREFIX, min_similarity=0.5).run(dataset(rows))
    # Jaccard = 6 shared / (12 + 12 - 6) = 1/3 < 0.5.
    assert result.campaigns == ()
    assert result.account_scores.values == pytest.approx([1 / 3] * 3)
    assert len(SynchroTrap(**ON_PREFIX, min_similarity=0.3).run(dataset(rows)).campaigns) == 1
    # Six shared hours are too few when ten are asked for: no score, no campaign.
    sparse_sync = SynchroTrap(
        constraints=ON_PREFIX["constraints"], min_similarity=0.3, min_shared_buckets=10
    ).run(dataset(rows))
    assert sparse_sync.campaigns == () and sparse_sync.account_scores.values.max() == 0


def test_parameters_are_checked_up_front():
    with pytest.raises(ValueError, match=r"min_similarity must be a number in \(0, 1\]; got 1.5"):
        SynchroTrap(min_similarity=1.5)
    with pytest.raises(ValueError, match="constraints must be drawn from"):
        SynchroTrap(constraints=("ip_prefix", "cookie"))
