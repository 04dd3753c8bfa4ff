"""Calibrating the size intervals on saved runs (``stillwatch bench intervals``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stillwatch.bench.intervals import calibrate, widen


def _campaign(truth: int, estimate: int, low: int, high: int, member_ex: int = 0) -> dict:
    return {
        "matched": True,
        "true_accounts": truth,
        "estimated_accounts": estimate,
        "accounts_interval": [low, high],
        "true_exchanges": truth * 10,
        "estimated_exchanges": estimate * 10,
        "exchanges_interval": [low * 10, high * 10],
        "member_exchanges": member_ex or estimate * 10,
    }


def _save(path: Path, per_scenario: dict[str, list[dict]], unseen: float = 0.0) -> Path:
    saved = {
        "settings": {"methods": {"stillwatch": {"params": {"settings": {
            "campaign_unseen_share": unseen, "campaign_mixture_margin": 0.0}}}}},
        "scenarios": [
            {"scenario": s, "runs": [{"seed": i, "method": "stillwatch",
                                      "figures": {"campaign_sizes": [c]}}
                                     for i, c in enumerate(cs)]}
            for s, cs in per_scenario.items()
        ],
    }  # fmt: skip
    path.write_text(json.dumps(saved))
    return path


def test_the_smallest_widening_that_covers_every_scenario_is_chosen(tmp_path: Path) -> None:
    # campaigns missing 3% of their accounts beyond their interval's high end
    missed = [_campaign(103, 100, 100, 100) for _ in range(9)] + [_campaign(100, 100, 99, 101)]
    covered = [_campaign(100, 100, 98, 102) for _ in range(10)]
    path = _save(tmp_path / "dev.json", {"a": missed, "b": covered})
    result = calibrate([path], target=0.9)
    assert result["chosen"] == {"unseen_share": 0.03, "mixture_margin": 0.0}
    at_zero = result["grid"][0]
    assert at_zero["scenarios"]["a"]["accounts_covered"] == pytest.approx(0.1)
    assert not at_zero["meets"]


def test_the_mixture_margin_widens_by_the_exchanges_judged_not_the_campaigns() -> None:
    c = _campaign(100, 100, 100, 100, member_ex=2000)  # half the members' exchanges removed
    (lo, hi), (a_lo, a_hi) = widen(c, 0.0, 0.1)
    assert (a_lo, a_hi) == (100, 100)
    assert (lo, hi) == (900, 1100)  # 1000 ± 0.1 × 1000


def test_runs_scanned_with_a_widening_are_refused(tmp_path: Path) -> None:
    path = _save(tmp_path / "dev.json", {"a": [_campaign(100, 100, 99, 101)]}, unseen=0.02)
    with pytest.raises(ValueError, match="unwidened"):
        calibrate([path])
