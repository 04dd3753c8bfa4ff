"""Content neighbours link accounts whose prompts share a template, and not ordinary users."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from stillwatch.bench.baselines.content_knn import ContentNeighbours
from tests.bench.planted_traffic import at, dataset, words

TEMPLATE = (
    "You are an expert agent. Solve the following software engineering task and write out "
    "your complete internal reasoning step by step before the final answer. Task: {slot}"
)


def _planted(text: bool = True) -> list[dict]:
    rng = np.random.default_rng(11)
    rows: list[dict] = []
    sweep = [f"refactor module {i} to add retries" for i in range(40)]
    for k in range(12):
        for j in range(10):
            prompt = TEMPLATE.format(slot=sweep[(3 * k + j) % len(sweep)])
            rows.append({"account_id": f"sweeper{k}", "ts": at(j), "prompt": prompt})
    for k in range(40):
        for j in range(10):
            rows.append({"account_id": f"user{k}", "ts": at(j), "prompt": words(rng, 25)})
    if not text:
        for r in rows:
            r["prompt_sha256"] = hashlib.sha256(r.pop("prompt").encode()).hexdigest()
    return rows


def test_templated_sweep_forms_one_campaign():
    result = ContentNeighbours(min_similarity=0.8).run(dataset(_planted()))
    assert [set(c.accounts) for c in result.campaigns] == [{f"sweeper{k}" for k in range(12)}]
    scores = result.account_scores.as_dict()
    assert min(scores[f"sweeper{k}"] for k in range(12)) >= 0.8
    assert max(scores[f"user{k}"] for k in range(40)) < 0.5


def test_hashes_stand_in_for_text_where_prompts_are_not_kept():
    rows = _planted(text=False)
    # With hashes only, accounts match on repeated prompts: sweepers k and k+1 share 7 of 10.
    result = ContentNeighbours(min_similarity=0.5).run(dataset(rows))
    assert [set(c.accounts) for c in result.campaigns] == [{f"sweeper{k}" for k in range(12)}]


def test_accounts_without_prompts_score_zero():
    rows = [{"account_id": f"a{k}", "ts": at(k)} for k in range(5)]
    result = ContentNeighbours().run(dataset(rows))
    assert result.campaigns == ()
    assert result.account_scores.values.tolist() == [0.0] * 5


def test_parameters_are_checked_up_front():
    with pytest.raises(ValueError, match="neighbours must be an integer in"):
        ContentNeighbours(neighbours=2.5)
