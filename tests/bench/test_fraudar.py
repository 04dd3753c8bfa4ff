"""FRAUDAR recovers an injected dense block despite camouflage, and weights popular columns down."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from stillwatch.bench.baselines.fraudar import Fraudar
from tests.bench.planted_traffic import at, dataset


def _graph_with_block(camouflage: int, seed: int = 3) -> tuple[sparse.csr_matrix, set[int]]:
    """400 accounts × 600 values at random (3 each), plus 12 fraud accounts all linked to 10
    block values and each to ``camouflage`` random popular values."""
    rng = np.random.default_rng(seed)
    n_legit, n_fraud, n_values, n_block = 400, 12, 600, 10
    rows, cols = [], []
    for a in range(n_legit):
        for v in rng.choice(n_values, 3, replace=False):
            rows.append(a)
            cols.append(int(v))
    popular = np.argsort(-np.bincount(cols, minlength=n_values))[:50]
    for f in range(n_fraud):
        account = n_legit + f
        for v in range(n_block):
            rows.append(account)
            cols.append(n_values + v)
        for v in rng.choice(popular, camouflage, replace=False):
            rows.append(account)
            cols.append(int(v))
    incidence = sparse.csr_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(n_legit + n_fraud, n_values + n_block)
    )
    return incidence, set(range(n_legit, n_legit + n_fraud))


@pytest.mark.parametrize("camouflage", [0, 5, 20])
def test_injected_dense_block_is_recovered_despite_camouflage(camouflage):
    incidence, fraud = _graph_with_block(camouflage)
    blocks, scores = Fraudar(max_blocks=3).blocks(incidence)
    assert set(blocks[0].tolist()) == fraud
    # Peeling order as score: the block is peeled last.
    assert set(np.argsort(-scores)[: len(fraud)].tolist()) == fraud
    # Nothing else is dense enough to report.
    assert len(blocks) == 1


def test_column_weighting_discounts_popular_values():
    incidence, _ = _graph_with_block(0)
    graph = Fraudar().weighted_graph(incidence)
    degree = np.asarray(incidence.sum(axis=0)).ravel()
    n_accounts = incidence.shape[0]
    weights = graph[:n_accounts].tocsc()
    busiest, rarest = int(np.argmax(degree)), int(np.argmin(np.where(degree > 0, degree, 1e9)))
    w_busy = weights[:, n_accounts + busiest].data[0]
    w_rare = weights[:, n_accounts + rarest].data[0]
    assert w_busy == pytest.approx(1 / np.log(degree[busiest] + 5))
    assert w_rare == pytest.approx(1 / np.log(degree[rarest] + 5))
    assert w_busy < w_rare


def test_end_to_end_block_of_shared_card_subnet_and_signup_hour():
    exchange_rows, account_rows = [], []
    for k in range(8):
        account_rows.append({"account_id": f"fraud{k}", "payment_fingerprint": "card-1",
                             "signup_ip": f"45.9.8.{k}", "created_at": at(0.1 * k),
                             "email_domain": "gmail.com"})  # fmt: skip
        exchange_rows.append({"account_id": f"fraud{k}", "ts": at(30 + k), "ip": "45.9.9.1",
                              "tls_fingerprint": "fp-bot", "user_agent": "python-sdk/1"})  # fmt: skip
    for k in range(120):
        account_rows.append({"account_id": f"user{k}", "payment_fingerprint": f"card-u{k}",
                             "signup_ip": f"10.{k}.0.1", "created_at": at(-500 + 3 * k),
                             "email_domain": "gmail.com"})  # fmt: skip
        exchange_rows.append({"account_id": f"user{k}", "ts": at(k), "ip": f"10.{k}.0.2",
                              "tls_fingerprint": f"fp-{k % 7}", "user_agent": "python-sdk/1"})  # fmt: skip
    result = Fraudar().run(dataset(exchange_rows, account_rows))
    assert [set(c.accounts) for c in result.campaigns] == [{f"fraud{k}" for k in range(8)}]
    campaign = result.campaigns[0]
    assert (campaign.estimated_accounts, campaign.estimated_exchanges) == (8, 8)


def test_parameters_are_checked_up_front():
    with pytest.raises(ValueError, match="max_blocks must be an integer in"):
        Fraudar(max_blocks=0)
    with pytest.raises(ValueError, match="attributes must be drawn from"):
        Fraudar(attributes=("shoe_size",))
