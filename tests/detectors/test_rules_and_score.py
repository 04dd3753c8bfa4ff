"""Rules: validation gathers every error with file:line; compiled queries score as written.
The account score: no single family, and no two groups, make an account look like a campaign."""

from __future__ import annotations

from pathlib import Path

import ibis
import pytest

from stillwatch.detectors.rules import load_rules, parse_rules
from stillwatch.detectors.score import account_scores, combine, group_scores
from stillwatch.errors import UsageError

BAD = """\
rules:
  - id: a.one
    version: "1"
    family: rhythm
    description: x
    false_positives: y
    terms:
      - {feature: no_such_feature, from: 0, to: 1}
      - {feature: duty_cycle, from: 1, to: 1}
  - id: a.two
    version: "1"
    family: not-a-family
    description: x
    false_positives: y
    combine: median
    colour: red
    terms:
      - {feature: duty_cycle, from: 0.2, to: 0.8}
"""


def test_rule_errors_are_gathered_with_file_and_line() -> None:
    rules, errors = parse_rules(BAD, "mine.yaml")
    assert rules == []
    assert "mine.yaml:8: unknown feature 'no_such_feature' (see docs/store.md)" in errors
    assert any(e.startswith("mine.yaml:9:") and "'from' != 'to'" in e for e in errors)
    assert any(e.startswith("mine.yaml:10:") and "not-a-family" in e for e in errors)
    assert any(e.startswith("mine.yaml:10:") and "combine 'median'" in e for e in errors)
    assert any(e.startswith("mine.yaml:10:") and "unknown key(s) ['colour']" in e for e in errors)


def test_bad_yaml_and_missing_file_are_one_clear_error(tmp_path: Path) -> None:
    _, errors = parse_rules("rules: [\n  {id: x\n", "broken.yaml")
    assert errors and errors[0].startswith("broken.yaml:") and "not valid YAML" in errors[0]
    with pytest.raises(UsageError, match=r"absent\.yaml: cannot read rule file"):
        load_rules([tmp_path / "absent.yaml"])
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    with pytest.raises(UsageError, match=r"bad.yaml:8: unknown feature.*bad.yaml:10"):
        load_rules([bad])


def test_a_rule_compiles_to_a_query_that_scores_as_written() -> None:
    (rule,), errors = parse_rules(
        """rules:
  - id: t.x
    version: "1"
    family: rhythm
    description: d
    false_positives: f
    when: [{feature: exchanges, min: 10}]
    combine: mean
    terms:
      - {feature: duty_cycle, from: 0.2, to: 0.6}
      - {feature: verified, equals: false}
""",
        "t.yaml",
    )
    assert not errors
    t = ibis.memtable(
        {
            "account_id": ["a", "b", "c", "d"],
            "exchanges": [50, 50, 5, 50],
            "duty_cycle": [0.4, 0.9, 0.9, None],
            "verified": [True, False, False, False],
        }
    )
    got = {r["account_id"]: r["score"] for r in rule.query(t).to_pyarrow().to_pylist()}
    assert got == pytest.approx({"a": 0.25, "b": 1.0, "d": 0.5})  # c: too few exchanges
    assert rule.requires[0] == "exchanges.ts" and "accounts.verified" in rule.requires


def test_one_family_or_two_groups_never_make_a_campaign() -> None:
    every = ["account-profile", "infrastructure", "rhythm"]
    assert combine(group_scores({"infrastructure": 1.0}, {"account", "coordination", "usage"})) == 0
    assert combine(group_scores({"infrastructure": 1.0, "synchrony": 1.0, "rhythm": 1.0,
                                 "tokens": 1.0}, {"account", "coordination", "usage"})) == 0  # fmt: skip
    scores = account_scores(
        [
            ("a", "d1", "account-profile", 0.8, "young"),
            ("a", "d2", "infrastructure", 0.5, "card"),
            ("a", "d3", "rhythm", 0.4, "24/7"),
            ("a", "d4", "tokens", 0.2, "long"),
            ("b", "d2", "infrastructure", 1.0, "card"),
        ],
        ["a", "b", "c"],
        measured_families=every,
    )
    assert scores["a"].score == pytest.approx((0.8 * 0.5 * 0.4) ** (1 / 3), abs=1e-6)
    assert scores["b"].score == 0 and scores["c"].score == 0
    assert [r["group"] for r in scores["a"].top_reasons[:3]] == ["account", "coordination", "usage"]


def test_unmeasured_groups_are_left_out_not_guessed() -> None:
    # No accounts table: the account group cannot be measured, the others still combine.
    s = account_scores(
        [("a", "d2", "infrastructure", 0.9, "x"), ("a", "d3", "rhythm", 0.4, "y")],
        ["a"],
        measured_families=["infrastructure", "rhythm"],
    )["a"]
    assert s.group_scores == {"coordination": 0.9, "usage": 0.4}
    assert s.score == pytest.approx((0.9 * 0.4) ** 0.5, abs=1e-6)
    only_one = account_scores([("a", "d3", "rhythm", 1.0, "y")], ["a"], ["rhythm"])["a"]
    assert only_one.score == 0
