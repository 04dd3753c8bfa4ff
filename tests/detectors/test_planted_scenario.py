"""Quality floors on simulated scenarios at small scale, development seeds (never an
evaluation seed). Each scenario is simulated once per session; the engine runs as the bench
runs it.

The floors sit below what the engine measured on these seeds when they were set (simulator
2.2, `stillwatch bench quality --scenario low-and-slow,evasive,look-alikes-only --scale small
--seeds 1-2 --methods stillwatch`: see docs/campaigns.md), so they catch regressions of the
machinery and of the campaign judgement, not noise. The targets of issue 11 are higher.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stillwatch.bench.dataset import Dataset
from stillwatch.bench.scorer import QualityFigures, score
from stillwatch.bench.stillwatch_method import StillwatchMethod
from stillwatch.bench.truth import Truth


def _figures(tmp_path_factory: pytest.TempPathFactory, scenario: str, seed: int) -> QualityFigures:
    from stillwatch.sim import simulate

    folder = tmp_path_factory.mktemp("scenario") / scenario
    simulate(scenario=scenario, scale="small", seed=seed, out=Path(folder))
    dataset = Dataset.from_folder(folder)
    try:
        result = StillwatchMethod().run(dataset)
    finally:
        dataset.close()
    return score(Truth.from_folder(folder), result)


@pytest.fixture(scope="session")
def low_and_slow(tmp_path_factory: pytest.TempPathFactory) -> QualityFigures:
    return _figures(tmp_path_factory, "low-and-slow", 2)


@pytest.fixture(scope="session")
def evasive(tmp_path_factory: pytest.TempPathFactory) -> QualityFigures:
    return _figures(tmp_path_factory, "evasive", 1)


@pytest.fixture(scope="session")
def look_alikes_only(tmp_path_factory: pytest.TempPathFactory) -> QualityFigures:
    return _figures(tmp_path_factory, "look-alikes-only", 2)


def test_low_and_slow_quality_floors(low_and_slow: QualityFigures) -> None:
    f = low_and_slow
    assert f.pr_auc is not None and f.pr_auc >= 0.93
    assert f.precision is not None and f.precision >= 0.99
    assert f.recall is not None and f.recall >= 0.93
    assert f.fp_per_10k is not None and f.fp_per_10k <= 1
    assert f.bcubed_f1 is not None and f.bcubed_f1 >= 0.93


def test_evasive_quality_floors(evasive: QualityFigures) -> None:
    # an operator that paraphrases, rotates residential proxies and wraps each harvest
    # request in small talk: found through its conversations, not its prompts
    f = evasive
    assert f.precision is not None and f.precision >= 0.97
    assert f.recall is not None and f.recall >= 0.8
    assert f.fp_per_10k is not None and f.fp_per_10k <= 1


def test_look_alikes_alone_yield_no_campaign(look_alikes_only: QualityFigures) -> None:
    assert look_alikes_only.fp_per_10k == 0
