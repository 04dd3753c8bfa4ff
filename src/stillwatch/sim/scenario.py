"""Scenarios are data: a versioned YAML file each, with ranges drawn per seed.

Any numeric parameter may be written as ``[low, high]``: each seed draws one value uniformly
(integers stay integers). Weight maps (``capabilities``, ``infrastructure``…) are normalised.
Every key is checked up front; all problems are reported at once with the file they are in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from stillwatch.errors import UsageError

SCALES: dict[str, dict[str, float]] = {
    # legit: legitimate accounts (before look-alike organizations), factor: operator accounts.
    "small": {"days": 14, "legit": 11_000, "factor": 1.0},
    "medium": {"days": 45, "legit": 100_000, "factor": 8.0},
    "large": {"days": 45, "legit": 1_000_000, "factor": 90.0},
}

# Operator parameters: default and meaning. Documented here once; scenario files override.
OPERATOR_DEFAULTS: dict[str, tuple[Any, str]] = {
    "name": ("operator", "label inside the scenario file only; ids in the data are opaque"),
    "accounts": ([100, 130], "accounts running at once, at small scale (x8 medium, x90 large)"),
    "rate": ([22, 30], "campaign exchanges per account per day"),
    "rate_spread": (0.45, "log-normal spread of the rate across accounts"),
    "lifetime_days": ([5, 9], "mean days an account lives before it is banned or dropped"),
    "ban_share": (0.8, "share of retired accounts retired by a provider ban (the rest dropped)"),
    "replace_hours": ([0.2, 6.0], "hours from a ban to the replacement's first request"),
    "start_day": (0, "day the campaign starts"),
    "hydra": (False, "a proxy service: load-balances across accounts, replaces at once"),
    "resold_share": (0.0, "share of the accounts' exchanges that is resold legitimate traffic"),
    "style": ("template", "template (fixed frames) or paraphrase (reworded every request)"),
    "frames": ([6, 14], "number of fixed frames a template operator sweeps with"),
    "cot_share": ([0.3, 0.5], "share of requests that elicit the model's reasoning"),
    "grader_share": ([0.0, 0.05], "share of requests using the model as a grader"),
    "zh_share": ([0.05, 0.2], "share of requests written in Chinese"),
    "capabilities": ({"coding": 0.5, "agentic": 0.3, "long-horizon": 0.2}, "targeted capabilities"),
    "payment": ("per-account", "pooled (a few instruments shared) or per-account (virtual cards)"),
    "payment_pool": ([3, 8], "instruments in a pooled payment"),
    "infrastructure": (
        {"datacenter-proxy": 0.4, "residential-proxy": 0.3, "cloud": 0.3},
        "where the accounts' requests leave from",
    ),
    "rotation": ("session", "address rotation: request, session or sticky (per account)"),
    "proxy_provider": ("", "name of the proxy service; operators naming the same one share it"),
    "signup_paths": (
        {"self-serve": 0.5, "education": 0.3, "startup-program": 0.2},
        "onboarding routes the accounts are registered through",
    ),
    "burst_size": ([5, 25], "accounts registered together in one burst"),
    "timing": ("synchronized", "synchronized (scheduler minutes), flat (24/7) or human"),
    "turns": (1.3, "mean user turns per session (multi-turn wrappers raise it)"),
    "wrapper": (False, "open sessions with small talk before the harvesting turn"),
    "release_pivot": (0.0, "share of traffic moved to a new model within 24 h of its release"),
    "thinking": ([0.5, 0.8], "share of requests asking for extended thinking"),
    "max_tokens": ([4096, 8192, 16000], "output caps the operator's scripts use"),
    "aged_share": ([0.1, 0.3], "share of accounts bought aged instead of freshly registered"),
    "verified_share": ([0.0, 0.1], "share of accounts that pass identity verification"),
    "client_families": (["python-sdk", "raw-http", "framework"], "SDKs the operator uses"),
}
SCENARIO_KEYS = {"scenario", "version", "description", "release", "population", "operators"}
POPULATION_DEFAULTS: dict[str, float] = {
    # multiplier on each legitimate look-alike kind's size (1 = the documented default)
    "power-user": 1.0,
    "coding-fleet": 1.0,
    "eval-harness": 1.0,
    "app": 1.0,
    "router": 1.0,
    "synthetic-data-vendor": 1.0,
    "shared-nat": 1.0,
    "cgnat": 1.0,
}


@dataclass
class Operator:
    params: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.params[key]


@dataclass
class Scenario:
    name: str
    version: int
    description: str
    release_day: float | None
    population: dict[str, float]
    operators: list[Operator] = field(default_factory=list)
    source: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


def catalogue() -> list[str]:
    """Names of the scenarios shipped with stillwatch."""
    folder = resources.files("stillwatch.sim").joinpath("scenarios")
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def _read(name: str | None, file: str | Path | None) -> tuple[dict[str, Any], str]:
    if (name is None) == (file is None):
        raise UsageError("give either --scenario NAME or --scenario-file FILE")
    if file is not None:
        path = Path(file)
        if not path.is_file():
            raise UsageError(f"{path}: no such scenario file")
        text, source = path.read_text(encoding="utf-8"), str(path)
    else:
        assert name is not None
        if name not in catalogue():
            raise UsageError(f"unknown scenario {name!r}; choose one of {', '.join(catalogue())}")
        res = resources.files("stillwatch.sim").joinpath("scenarios", f"{name}.yaml")
        text, source = res.read_text(encoding="utf-8"), f"{name}.yaml"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"{source}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise UsageError(f"{source}: expected a mapping with keys {sorted(SCENARIO_KEYS)}")
    return data, source


def _draw(rng: np.random.Generator, value: Any) -> Any:
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        lo, hi = value
        if isinstance(lo, int) and isinstance(hi, int):
            return int(rng.integers(lo, hi + 1))
        return float(rng.uniform(float(lo), float(hi)))
    if (
        isinstance(value, dict)
        and value
        and all(isinstance(v, int | float) for v in value.values())
    ):
        total = float(sum(value.values()))
        return {str(k): float(v) / total for k, v in value.items()}
    return value


def load(name: str | None = None, file: str | Path | None = None, seed: int = 0) -> Scenario:
    """Read a scenario and draw its ranged parameters for ``seed``."""
    data, source = _read(name, file)
    problems = [f"{source}: unknown key {k!r}" for k in data if k not in SCENARIO_KEYS]
    for k in ("scenario", "version"):
        if k not in data:
            problems.append(f"{source}: missing key {k!r}")
    ops_raw = data.get("operators") or []
    if not isinstance(ops_raw, list):
        problems.append(f"{source}: 'operators' must be a list")
        ops_raw = []
    for i, op in enumerate(ops_raw):
        if not isinstance(op, dict):
            problems.append(f"{source}: operators[{i}] must be a mapping")
            continue
        problems += [
            f"{source}: operators[{i}] unknown key {k!r} (known: {', '.join(OPERATOR_DEFAULTS)})"
            for k in op
            if k not in OPERATOR_DEFAULTS
        ]
    pop = data.get("population") or {}
    problems += [
        f"{source}: population unknown kind {k!r} (known: {', '.join(POPULATION_DEFAULTS)})"
        for k in pop
        if k not in POPULATION_DEFAULTS
    ]
    if problems:
        raise UsageError("; ".join(problems))
    rng = np.random.default_rng([seed, 7919])
    operators = []
    for op in ops_raw:
        params = {
            k: _draw(rng, op.get(k, default)) for k, (default, _) in OPERATOR_DEFAULTS.items()
        }
        operators.append(Operator(params))
    release = data.get("release")
    release_day = float(_draw(rng, release["day"])) if isinstance(release, dict) else None
    return Scenario(
        name=str(data["scenario"]),
        version=int(data["version"]),
        description=str(data.get("description", "")).strip(),
        release_day=release_day,
        population={**POPULATION_DEFAULTS, **{k: float(v) for k, v in pop.items()}},
        operators=operators,
        source=source,
        raw=data,
    )
