"""The scorer on hand-built cases whose every figure is worked out by hand."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import numpy as np
import pytest

from stillwatch.bench.method import AccountScores, Campaign, MethodResult
from stillwatch.bench.scorer import bcubed, score
from stillwatch.bench.truth import Truth

# Campaign C1 (operator O1): a1..a4; campaign C2 (operator O2): a5, a6;
# legitimate: l1, l2 (evaluation harnesses), l3, l4 (ordinary).
LABELS = [
    ("a1", "O1", "C1", "campaign"),
    ("a2", "O1", "C1", "campaign"),
    ("a3", "O1", "C1", "campaign"),
    ("a4", "O1", "C1", "campaign"),
    ("a5", "O2", "C2", "campaign"),
    ("a6", "O2", "C2", "campaign"),
    ("l1", None, None, "benign:eval-harness"),
    ("l2", None, None, "benign:eval-harness"),
    ("l3", None, None, "benign"),
    ("l4", None, None, "benign"),
]
SIZES = {
    "C1": (100, date(2026, 4, 20), date(2026, 6, 5)),
    "C2": (40, date(2026, 5, 1), date(2026, 5, 10)),
}
SCORES = {
    "a1": 0.9, "a2": 0.8, "a3": 0.7, "a4": 0.6, "a5": 0.5, "a6": 0.4,
    "l1": 0.85, "l2": 0.1, "l3": 0.2, "l4": 0.3,
}  # fmt: skip


def _campaign(accounts: tuple[str, ...], exchanges: int, interval: tuple[int, int],
              first: date, last: date, operator: str | None) -> Campaign:  # fmt: skip
    return Campaign(accounts, len(accounts), exchanges, interval, first, last, operator)


def _result(p1_operator: str | None = "Y") -> MethodResult:
    return MethodResult(
        AccountScores.from_mapping(SCORES),
        (
            _campaign(("a1", "a2", "a3", "l1"), 120, (100, 150), date(2026, 4, 22),
                      date(2026, 6, 5), "X"),
            _campaign(("a4", "a5", "a6"), 50, (50, 50), date(2026, 5, 1), date(2026, 5, 13),
                      p1_operator),
        ),
    )  # fmt: skip


@pytest.fixture
def figures():
    return score(Truth.from_labels(LABELS, SIZES), _result())


def test_account_level(figures):
    # Negatives 0.85, 0.1, 0.2, 0.3: a1 beats all four, every other positive beats three.
    assert figures.roc_auc == pytest.approx(19 / 24)
    # Ranked: a1 P, l1 N, a2..a6 P: precision at each positive 1, 2/3, 3/4, 4/5, 5/6, 6/7.
    ap = sum(Fraction(k, r) for k, r in [(1, 1), (2, 3), (3, 4), (4, 5), (5, 6), (6, 7)]) / 6
    assert figures.pr_auc == pytest.approx(float(ap))
    assert figures.flagged == 7
    assert figures.precision == pytest.approx(6 / 7)
    assert figures.recall == pytest.approx(1.0)
    assert figures.false_positives == 1
    assert figures.false_positives_by_kind == {"benign": 0, "eval-harness": 1}
    # Four legitimate accounts are far too few for a rate per 10,000.
    assert figures.fp_per_10k is None
    assert figures.fp_per_10k_by_kind is None


def test_bcubed_and_ari(figures):
    # Items a1..a6 and l1. Precision per item: a1-a3 3/4, l1 1/4, a4 1/3, a5-a6 2/3.
    precision = Fraction(25, 6) / 7
    # Recall per item: a1-a3 3/4, a4 1/4, a5-a6 1, l1 1.
    recall = Fraction(11, 2) / 7
    assert figures.bcubed_precision == pytest.approx(float(precision))
    assert figures.bcubed_recall == pytest.approx(float(recall))
    assert figures.bcubed_f1 == pytest.approx(float(2 * precision * recall / (precision + recall)))
    # Contingency pairs 3 + 1 = 4; true pairs 6 + 1 = 7; predicted pairs 6 + 3 = 9; 21 pairs.
    # Expected 7 * 9 / 21 = 3, maximum (7 + 9) / 2 = 8: ARI = (4 - 3) / (8 - 3).
    assert figures.ari == pytest.approx(0.2)


def test_operator_attribution():
    truth = Truth.from_labels(LABELS, SIZES)
    # O1's flagged accounts carry X three times in four, O2's carry Y: both attributed.
    assert score(truth, _result("Y")).operator_attribution == pytest.approx(1.0)
    # Both operators' accounts mostly carry X: neither is told apart.
    assert score(truth, _result("X")).operator_attribution == pytest.approx(0.0)
    # A campaign without an operator id: O2's accounts carry none, O1 keeps X.
    assert score(truth, _result(None)).operator_attribution == pytest.approx(0.5)


def test_operator_needs_a_strict_majority():
    labels = [(f"a{i}", "O1", "C1", "campaign") for i in range(4)] + [
        ("b0", "O2", "C2", "campaign"),
        ("b1", "O2", "C2", "campaign"),
    ]
    day = date(2026, 5, 1)
    result = MethodResult(
        AccountScores.from_mapping({a[0]: 1.0 for a in labels}),
        (
            _campaign(("a0", "a1"), 1, (1, 1), day, day, "X"),
            _campaign(("a2", "a3"), 1, (1, 1), day, day, "Z"),
            _campaign(("b0", "b1"), 1, (1, 1), day, day, "Y"),
        ),
    )
    # O1 splits two and two between X and Z: not "mostly" one id. O2 is attributed.
    assert score(Truth.from_labels(labels), result).operator_attribution == pytest.approx(0.5)


def test_campaign_sizes(figures):
    c1, c2 = figures.campaign_sizes
    # C1 is matched to the first campaign (three of its four accounts).
    assert c1.matched and c2.matched
    assert c1.exchanges_relative_error == pytest.approx(0.2)  # 120 vs 100
    assert c1.accounts_relative_error == pytest.approx(0.0)  # 4 vs 4
    assert (c1.first_day_error, c1.last_day_error) == (2, 0)
    assert c1.covered is True  # 100 in [100, 150]
    # C2 is matched to the second campaign (both its accounts).
    assert c2.exchanges_relative_error == pytest.approx(0.25)  # 50 vs 40
    assert c2.accounts_relative_error == pytest.approx(0.5)  # 3 vs 2
    assert (c2.first_day_error, c2.last_day_error) == (0, 3)
    assert c2.covered is False  # 40 not in [50, 50]
    assert figures.exchanges_relative_error == pytest.approx(0.225)
    assert figures.accounts_relative_error == pytest.approx(0.25)
    assert figures.first_day_error == pytest.approx(1.0)
    assert figures.last_day_error == pytest.approx(1.5)
    assert (figures.true_campaigns, figures.campaigns_matched, figures.covered) == (2, 2, 1)


def test_unmatched_campaign_and_missing_scores():
    truth = Truth.from_labels(LABELS, SIZES)
    day = date(2026, 5, 1)
    # Only C1's accounts reported; scores given for a1 alone (the rest count as 0).
    result = MethodResult(
        AccountScores.from_mapping({"a1": 1.0, "stranger": 1.0}),
        (_campaign(("a1", "a2", "a3", "a4"), 100, (90, 110), day, day, "X"),),
    )
    figures = score(truth, result)
    sizes = {s.campaign_id: s for s in figures.campaign_sizes}
    assert sizes["C2"].matched is False
    assert figures.campaigns_matched == 1
    assert figures.recall == pytest.approx(4 / 6)
    assert figures.precision == pytest.approx(1.0)
    # Ranked: a1 alone at 1, then nine accounts tied at 0 holding five positives.
    assert figures.pr_auc == pytest.approx(1 / 6 * 1 + 5 / 6 * 6 / 10)
    assert figures.roc_auc == pytest.approx((4 * 1 + 5 * 4 * 0.5) / 24)


def test_rate_per_10k_needs_10k_legitimate_accounts():
    def truth(n_legit: int) -> Truth:
        labels = [("c0", "O1", "C1", "campaign")] + [
            (f"l{i}", None, None, "benign:enterprise-fleet" if i < 10 else "benign")
            for i in range(n_legit)
        ]
        return Truth.from_labels(labels)

    day = date(2026, 5, 1)
    result = MethodResult(
        AccountScores.from_mapping({"c0": 1.0}),
        (_campaign(("c0", "l0", "l1", "l20"), 1, (1, 1), day, day, None),),
    )
    figures = score(truth(10_000), result)
    assert figures.fp_per_10k == pytest.approx(3.0)
    assert figures.fp_per_10k_by_kind == pytest.approx({"enterprise-fleet": 2.0, "benign": 1.0})
    assert score(truth(9_999), result).fp_per_10k is None
    # A single operator: no adjusted Rand index.
    assert figures.ari is None


def test_look_alikes_only_reports_flags_and_false_positives_only():
    truth = Truth.from_labels([(f"l{i}", None, None, "benign:router") for i in range(5)])
    day = date(2026, 5, 1)
    result = MethodResult(
        AccountScores.from_mapping({"l0": 0.9, "l1": 0.8}),
        (_campaign(("l0", "l1"), 10, (10, 10), day, day, "X"),),
    )
    figures = score(truth, result)
    assert (figures.flagged, figures.false_positives) == (2, 2)
    assert figures.false_positives_by_kind == {"router": 2}
    assert figures.pr_auc is None and figures.precision is None and figures.bcubed_f1 is None
    assert figures.operator_attribution is None and figures.campaign_sizes == []


def test_perfect_clustering_scores_one():
    labels = np.array([0, 0, 1, 1, 2])
    assert bcubed(labels, labels) == pytest.approx((1.0, 1.0, 1.0))
    # Everything lumped into one predicted cluster: recall 1, precision (2*2 + 2*2 + 1)/5/5.
    p, r, _ = bcubed(labels, np.zeros(5, dtype=int))
    assert (p, r) == pytest.approx((9 / 25, 1.0))


def test_result_rejects_an_account_in_two_campaigns():
    day = date(2026, 5, 1)
    with pytest.raises(ValueError, match="more than one campaign"):
        MethodResult(
            AccountScores.from_mapping({"a": 1.0}),
            (_campaign(("a",), 1, (1, 1), day, day, None), _campaign(("a",), 1, (1, 1), day,
                                                                     day, None)),
        )  # fmt: skip


def test_scores_outside_unit_interval_are_rejected():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        AccountScores.from_mapping({"a": 1.5})


def test_worst_of_seeds_and_pooled_coverage():
    from stillwatch.bench.quality import ScenarioResult, SeedRun

    truth = Truth.from_labels(LABELS, SIZES)
    good = score(truth, _result("Y"))  # precision 6/7, one of two campaigns covered
    day = date(2026, 5, 1)
    weak = score(
        truth,
        MethodResult(
            AccountScores.from_mapping(SCORES),
            (_campaign(("a1", "a2", "l1", "l2"), 100, (90, 110), day, day, "X"),),
        ),
    )  # precision 2/4; C1 matched and covered, C2 unmatched
    result = ScenarioResult("multi-operator", "small")
    result.runs = [SeedRun(1000, "m", good, 2.0, 10.0), SeedRun(1001, "m", weak, 3.0, 5.0)]
    worst = result.worst("m")
    assert worst["precision"] == pytest.approx(0.5)
    assert worst["recall"] == pytest.approx(2 / 6)
    assert worst["false_positives"] == 2
    assert worst["wall_seconds"] == 3.0 and worst["peak_memory_mb"] == 10.0
    assert worst["campaigns_matched_share"] == pytest.approx(0.5)
    # Coverage pools the seeds: (1 + 1) covered of (2 + 1) matched.
    assert worst["interval_coverage"] == pytest.approx(2 / 3)


def test_look_alikes_only_table_shows_flags_and_false_positives_only():
    from stillwatch.bench.quality import ScenarioResult, SeedRun
    from stillwatch.bench.report import scenario_rows

    truth = Truth.from_labels([(f"l{i}", None, None, "benign:router") for i in range(5)])
    figures = score(truth, MethodResult(AccountScores.from_mapping({"l0": 0.5})))
    result = ScenarioResult("look-alikes-only", "small")
    result.runs = [SeedRun(1000, "m", figures, 1.0, None)]
    rows = scenario_rows(result.as_dict(["m"]), ["m"])
    labels = [r["figure"] for r in rows]
    assert "PR-AUC" not in labels and "B-cubed F1" not in labels
    assert labels[:3] == ["flagged accounts", "false positives", "FP per 10k legitimate"]
    assert "  router" in labels
