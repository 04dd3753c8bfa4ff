"""Realism guard: no shortcut gives campaign membership away, within a data set or across seeds.

Every scenario at small scale on the two development seeds of ``GUARD_SEEDS``; the measures
are in ``sim_guard`` (what they read and how is written there). Positive controls make sure
campaigns stay findable by the evidence THREATS.md describes, and the can-it-fail tests plant
partial leaks the guard must catch.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import duckdb
import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score
from sklearn.model_selection import cross_val_predict
from threadpoolctl import threadpool_limits

from stillwatch.sim import catalogue
from tests.sim import sim_guard as g

SCENARIOS = catalogue()
WITH_CAMPAIGNS = [s for s in SCENARIOS if s != "look-alikes-only"]
_reports: dict[str, dict] = {}
_supervised: dict[str, float] = {}
_jaccard: list[float] = []
_literals: set[int] = set()


@pytest.fixture(scope="module", autouse=True)
def _figures_file():
    """With STILLWATCH_GUARD_FIGURES=FILE, the guard's figures go to FILE (for docs/)."""
    yield
    target = os.environ.get("STILLWATCH_GUARD_FIGURES")
    if target:
        figures = {
            sc: {
                "within": {s: len(f) for s, f in r["within"].items()},
                "across": {
                    f"{k} {x}->{y}": [round(v[0], 3), round(v[1], 3), v[2]]
                    for (k, x, y), v in r.get("across", {}).items()
                },
                "recurring": {
                    s: sorted(rc.values()) for s, (rc, _) in r.get("recurring", {}).items()
                },
            }
            for sc, r in _reports.items()
        }
        figures["supervised_pr_auc"] = _supervised
        figures["jaccard_worst"] = _jaccard
        Path(target).write_text(json.dumps(figures, indent=1) + "\n")


def literals() -> set[int]:
    if not _literals:
        _literals.update(g.literal_ngrams())
    return _literals


def report(dataset, scenario: str) -> dict:
    """Every guard measure of one scenario on both seeds, computed once (the per-account
    tables are large: they are dropped when the scenario is done)."""
    if scenario not in _reports:
        its = {seed: g.items(dataset(scenario, seed)[0]) for seed in g.GUARD_SEEDS}
        out: dict = {"within": {s: g.within(it, literals()) for s, it in its.items()}}
        if scenario in WITH_CAMPAIGNS:
            a, b = g.GUARD_SEEDS
            learned = {s: g.indicative(it) for s, it in its.items()}
            out["across"] = {
                (kinds, x, y): g.across(learned[x], its[y], kinds)
                for kinds in ("values", "ngrams")
                for x, y in ((a, b), (b, a))
            }
            out["recurring"] = {}
            for s, it in its.items():
                g.item_stats(it, 1.0)  # (makes the operator sizes)
                out["recurring"][s] = (g.recurring_frames(it), set(it.operators))
        for it in its.values():
            it.con.close()
        _reports[scenario] = out
    return _reports[scenario]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_no_seed_independent_value_or_wording_marks_an_operator(dataset, scenario) -> None:
    for seed, found in report(dataset, scenario)["within"].items():
        assert not found, (
            seed,
            [
                f"{f.item} ({f.kind}) precision {f.precision:.2f} recall {f.recall:.2f}"
                for f in found[:10]
            ],
        )


# Scenarios whose n-grams would still transfer between seeds 1 and 2 (docs/simulator.md, "The
# realism guard"): an operator on each seed drew the same option of a slot, and n-grams of that
# option, alone or beside a request's content, are held by few legitimate accounts. Empty since
# simulator version 2.2 (options composed of parts, request content ending in many words); a
# scenario put back here is a strict xfail, so the mark cannot outlive the leak.
NGRAMS_TRANSFER: set[str] = set()


def _across_cases() -> list:
    cases = []
    for scenario in WITH_CAMPAIGNS:
        cases.append(pytest.param(scenario, "values", id=f"{scenario}-values"))
        marks = (
            [
                pytest.mark.xfail(
                    strict=True,
                    reason="chance coincidences: the operators of seeds 1 and 2 drew the same "
                    "option of a slot (in Chinese, or next to a request's content), and its "
                    "n-grams are held by few legitimate accounts; measured in docs/simulator.md",
                )
            ]
            if scenario in NGRAMS_TRANSFER
            else []
        )
        cases.append(pytest.param(scenario, "ngrams", id=f"{scenario}-ngrams", marks=marks))
    return cases


@pytest.mark.parametrize(("scenario", "kinds"), _across_cases())
def test_what_marks_campaigns_on_one_seed_fails_on_another(dataset, scenario, kinds) -> None:
    for (k, x, y), (single, count, name) in report(dataset, scenario)["across"].items():
        if k == kinds:
            assert single < g.ACROSS_PRECISION, (x, y, name, single)
            assert count < g.ACROSS_PRECISION, (x, y, count)


def test_operators_frames_barely_overlap_across_seeds() -> None:
    """Jaccard index of two seeds' operator frame 3-gram sets, worst pair over scenarios."""
    worst = 0.0
    for scenario in WITH_CAMPAIGNS:
        a, b = (g.operator_frames(scenario, s) for s in g.GUARD_SEEDS)
        for x, y in itertools.product(a, b):
            assert x and y
            worst = max(worst, len(x & y) / len(x | y))
    _jaccard.append(round(worst, 4))
    assert worst <= 0.05, worst


@pytest.mark.parametrize("scenario", WITH_CAMPAIGNS)
def test_operators_frames_recur_across_their_accounts(dataset, scenario) -> None:
    """Positive control: each operator has 3-grams on ≥ 30% of its accounts that ≤ 1% of
    legitimate accounts hold, on both seeds."""
    for seed, (recurring, operators) in report(dataset, scenario)["recurring"].items():
        assert set(recurring) == operators, seed
        assert min(recurring.values()) >= 1, (seed, recurring)


@pytest.mark.parametrize("scenario", WITH_CAMPAIGNS)
def test_campaigns_stay_findable_by_combined_evidence(per_account, scenario) -> None:
    """Positive control: a supervised model over per-account statistics, 5-fold CV."""
    for seed in g.GUARD_SEEDS:
        f = per_account(scenario, seed)
        x = np.column_stack(list(f.numeric.values()))
        # one thread: on a shared two-core machine, OpenMP's threads make it 6x slower
        with threadpool_limits(1):
            p = cross_val_predict(
                HistGradientBoostingClassifier(max_iter=150, random_state=0),
                x,
                f.y,
                cv=5,
                method="predict_proba",
            )[:, 1]
        ap = float(average_precision_score(f.y, p))
        _supervised[f"{scenario} {seed}"] = round(ap, 3)
        assert ap >= 0.9, seed


# ---- can it fail? partial leaks planted in the views -----------------------------------------


def _operator_share(dataset, scenario: str, seed: int, share: float) -> list[str]:
    """A ``share`` of one operator's accounts (the largest operator)."""
    folder, _ = dataset(scenario, seed)
    rows = (
        duckdb.connect()
        .execute(
            f"""SELECT operator_id, list(account_id ORDER BY hash(account_id))
            FROM read_parquet('{folder}/labels_accounts.parquet')
            WHERE operator_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"""
        )
        .fetchall()
    )
    ids = rows[0][1]
    return ids[: int(np.ceil(share * len(ids)))]


@pytest.mark.parametrize(
    "plant",
    [
        {"column": "user_agent", "value": "orchard-batch/2.1"},
        {"column": "signup_path", "value": "partner-referral"},
    ],
    ids=["user-agent", "signup-path"],
)
def test_a_marker_on_a_quarter_of_one_operator_is_caught(dataset, plant) -> None:
    planted = {}
    for seed in g.GUARD_SEEDS:
        folder, _ = dataset("multi-operator", seed)
        accounts = _operator_share(dataset, "multi-operator", seed, 0.25)
        planted[seed] = g.items(folder, g.Plant(accounts, **plant), ngrams=False)
    found = g.within(planted[g.GUARD_SEEDS[0]], literals())
    assert any(plant["value"] in f.item for f in found), found
    learned = [s for s in g.indicative(planted[1]) if plant["value"] in s["item"]]
    assert learned  # among the most indicative on one seed…
    single, count, _ = g.across(learned, planted[2])
    assert single >= g.ACROSS_PRECISION and count >= g.ACROSS_PRECISION  # …and on the other


def test_a_reason_code_on_a_third_of_one_operator_is_caught(dataset) -> None:
    folder, _ = dataset("low-and-slow", 1)
    accounts = _operator_share(dataset, "low-and-slow", 1, 1 / 3)
    planted = g.items(folder, g.Plant(accounts, reason="model-extraction"), ngrams=False)
    found = g.within(planted, literals())
    assert any("model-extraction" in f.item and "reason" in f.kind for f in found), found


def test_a_phrase_on_a_quarter_of_one_operator_is_caught_across_seeds(dataset) -> None:
    planted = {}
    for seed in g.GUARD_SEEDS:
        folder, _ = dataset("hydra-loud", seed)
        accounts = _operator_share(dataset, "hydra-loud", seed, 0.25)
        planted[seed] = g.items(folder, g.Plant(accounts, phrase="per house protocol zeta"))
    learned = [s for s in g.indicative(planted[1]) if "house protocol" in g.describe(s["item"])]
    assert learned
    single, count, _ = g.across(learned, planted[2], "ngrams")
    assert single >= g.ACROSS_PRECISION and count >= g.ACROSS_PRECISION
