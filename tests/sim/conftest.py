"""Simulated data sets shared by the simulator tests: each is generated once per session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stillwatch.sim import simulate


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., tuple[Path, dict[str, Any]]]:
    """``dataset(scenario, seed, days=None)`` → (folder, summary), cached for the session."""
    cache: dict[tuple[str, int, int | None], tuple[Path, dict[str, Any]]] = {}

    def make(scenario: str, seed: int = 1, days: int | None = None) -> tuple[Path, dict[str, Any]]:
        key = (scenario, seed, days)
        if key not in cache:
            folder = tmp_path_factory.mktemp(f"{scenario}-{seed}-{days}")
            cache[key] = (
                folder,
                simulate(scenario=scenario, scale="small", seed=seed, out=folder, days=days),
            )
        return cache[key]

    return make


@pytest.fixture(scope="session")
def per_account(dataset: Callable[..., tuple[Path, dict[str, Any]]]) -> Callable[..., Any]:
    """``per_account(scenario, seed)`` → the per-account statistics of ``sim_realism`` for
    that small data set, computed once for the session (both guards read them)."""
    from tests.sim.sim_realism import account_features

    cache: dict[tuple[str, int], Any] = {}

    def get(scenario: str, seed: int) -> Any:
        if (scenario, seed) not in cache:
            cache[scenario, seed] = account_features(dataset(scenario, seed)[0])
        return cache[scenario, seed]

    return get
