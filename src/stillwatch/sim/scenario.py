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
    "abuse-ring": 1.0,
}
# Wording families campaigns use and the share of legitimate (ordinary) accounts that speak
# each in a phrasing of their own (``voices``); look-alike organizations speak them more.
LEGIT_FAMILY_SHARES: dict[str, float] = {
    "reasoning": 0.10,  # "write out your reasoning step by step", in English or Chinese
    "task": 0.06,  # framed tasks: "Implement … with unit tests", plans, analyses
    "agent": 0.03,  # "act as an autonomous agent with shell access"
    "grader": 0.02,  # rubric grading and pairwise comparison of answers
    "context": 0.06,  # "our startup is building …", "for a hackathon"
    "smalltalk": 0.05,  # a session opened with small talk
}
# Share of legitimate accounts whose agent framework sends one of a few fixed system prompts.
FRAMEWORK_SYSTEM_SHARE = 0.05
# Abuse rings (``benign:abuse-ring``): coordinated fraud that harvests no capability. Each ring
# is built like an operator from these parameters (the rest take OPERATOR_DEFAULTS); a
# scenario holds RINGS_PER_SCENARIO of them at small scale (x the population's size factor).
RINGS_PER_SCENARIO = 5
RING_TRADES = {"spam": 0.45, "card-testing": 0.3, "key-resale": 0.25}
ABUSE_RING: dict[str, Any] = {
    "accounts": [8, 30],
    "rate": [2, 8],
    "rate_spread": 0.8,
    "lifetime_days": [2, 6],
    "ban_share": 0.75,
    "replace_hours": [0.5, 12.0],
    "payment": "pooled",
    "payment_pool": [2, 8],
    "infrastructure": {"datacenter-proxy": 0.4, "residential-proxy": 0.4, "mobile-proxy": 0.2},
    "rotation": "session",
    "signup_paths": {"self-serve": 0.8, "startup-program": 0.1, "education": 0.1},
    "burst_size": [5, 20],
    "turns": 1.0,
    "thinking": [0.0, 0.1],
    "max_tokens": [256, 1024, 4096],
    "aged_share": [0.0, 0.2],
    "verified_share": [0.0, 0.05],
    "zh_share": [0.0, 0.1],
    "client_families": ["python-sdk", "raw-http", "node-sdk"],
}

# What each operator key takes: ("number", low, high) for a number or a [low, high] range,
# ("int", …) likewise for whole numbers, ("bool",), ("text",), ("choice", options),
# ("weights", allowed keys or None), ("list", allowed items or None, item kind).
_CAPABILITIES = ("coding", "agentic", "long-horizon", "data-analysis", "computer-use")
_INFRA = ("datacenter-proxy", "residential-proxy", "mobile-proxy", "cloud")
_CLIENT_FAMILIES = (
    "python-sdk",
    "node-sdk",
    "framework",
    "raw-http",
    "go-sdk",
    "java-sdk",
    "agent-cli",
    "browser",
)
SPEC: dict[str, tuple[Any, ...]] = {
    "name": ("text",),
    "accounts": ("number", 1e-9, 1e6),
    "rate": ("number", 1e-9, 1e5),
    "rate_spread": ("number", 0, 5),
    "lifetime_days": ("number", 0.01, 1e4),
    "ban_share": ("number", 0, 1),
    "replace_hours": ("number", 0, 1e4),
    "start_day": ("number", 0, 1e4),
    "hydra": ("bool",),
    "resold_share": ("number", 0, 0.95),
    "style": ("choice", ("template", "paraphrase")),
    "frames": ("int", 1, 1000),
    "cot_share": ("number", 0, 1),
    "grader_share": ("number", 0, 1),
    "zh_share": ("number", 0, 1),
    "capabilities": ("weights", _CAPABILITIES),
    "payment": ("choice", ("pooled", "per-account")),
    "payment_pool": ("int", 1, 1e6),
    "infrastructure": ("weights", _INFRA),
    "rotation": ("choice", ("request", "session", "sticky")),
    "proxy_provider": ("text",),
    "signup_paths": ("weights", None),
    "burst_size": ("int", 1, 1e6),
    "timing": ("choice", ("synchronized", "flat", "human")),
    "turns": ("number", 1, 100),
    "wrapper": ("bool",),
    "release_pivot": ("number", 0, 1),
    "thinking": ("number", 0, 1),
    "max_tokens": ("list", None, "int"),
    "aged_share": ("number", 0, 1),
    "verified_share": ("number", 0, 1),
    "client_families": ("list", _CLIENT_FAMILIES, "text"),
}


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v)


def _problem(key: str, value: Any) -> str | None:
    """What is wrong with ``value`` for operator key ``key`` (None when it is fine)."""
    kind, *rest = SPEC[key]
    if kind in ("number", "int"):
        low, high = rest
        whole = kind == "int"
        what = "a whole number" if whole else "a number"
        values = value if isinstance(value, list) else [value]
        if (isinstance(value, list) and len(value) != 2) or not all(
            _is_number(v) and (not whole or float(v).is_integer()) for v in values
        ):
            return f"expected {what} or a range [low, high], got {value!r}"
        if len(values) == 2 and values[0] > values[1]:
            return f"range [low, high] has low > high: {value!r}"
        if any(v < low or v > high for v in values):
            return f"expected {what} between {low:g} and {high:g}, got {value!r}"
        return None
    if kind == "bool":
        return None if isinstance(value, bool) else f"expected true or false, got {value!r}"
    if kind == "text":
        return None if isinstance(value, str) else f"expected text, got {value!r}"
    if kind == "choice":
        return None if value in rest[0] else f"expected one of {', '.join(rest[0])}, got {value!r}"
    if kind == "weights":
        allowed = rest[0]
        if not isinstance(value, dict) or not value:
            return f"expected a mapping of name: weight, got {value!r}"
        bad = [k for k in value if allowed is not None and k not in allowed]
        if bad:
            return f"unknown {', '.join(map(str, bad))} (known: {', '.join(allowed)})"
        if not all(_is_number(v) and v >= 0 for v in value.values()) or not sum(value.values()):
            return f"weights must be non-negative numbers, not all 0, got {value!r}"
        return None
    allowed, item = rest
    if not isinstance(value, list) or not value:
        return f"expected a non-empty list, got {value!r}"
    if item == "int" and not all(_is_number(v) and float(v).is_integer() and v > 0 for v in value):
        return f"expected positive whole numbers, got {value!r}"
    if item == "text" and not all(isinstance(v, str) for v in value):
        return f"expected a list of names, got {value!r}"
    bad = [v for v in value if allowed is not None and v not in allowed]
    if bad:
        return f"unknown {', '.join(map(str, bad))} (known: {', '.join(allowed)})"
    return None


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


def ring_params(rng: np.random.Generator) -> Operator:
    """One abuse ring's parameters, drawn like an operator's (see ``ABUSE_RING``)."""
    params = {
        k: _draw(rng, ABUSE_RING.get(k, default)) for k, (default, _) in OPERATOR_DEFAULTS.items()
    }
    params["timing"] = str(rng.choice(["synchronized", "flat", "human"], p=[0.5, 0.3, 0.2]))
    params["name"] = "ring"
    return Operator(params)


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


def load(
    name: str | None = None,
    file: str | Path | None = None,
    seed: int = 0,
    operator_seed: int | None = None,
) -> Scenario:
    """Read a scenario and draw its ranged parameters: the operators' for ``operator_seed``
    (default ``seed``), the rest (the release day) for ``seed``."""
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
        for k, v in op.items():
            if k not in OPERATOR_DEFAULTS:
                problems.append(
                    f"{source}: operators[{i}] unknown key {k!r} "
                    f"(known: {', '.join(OPERATOR_DEFAULTS)})"
                )
            elif (why := _problem(k, v)) is not None:
                problems.append(f"{source}: operators[{i}].{k}: {why}")
    pop = data.get("population") or {}
    if not isinstance(pop, dict):
        problems.append(f"{source}: 'population' must be a mapping of kind: multiplier")
        pop = {}
    for k, v in pop.items():
        if k not in POPULATION_DEFAULTS:
            problems.append(
                f"{source}: population unknown kind {k!r} (known: {', '.join(POPULATION_DEFAULTS)})"
            )
        elif not (_is_number(v) and 0 <= v <= 100):
            problems.append(f"{source}: population.{k}: expected a number 0-100, got {v!r}")
    release = data.get("release")
    if release is not None and not (
        isinstance(release, dict)
        and set(release) == {"day"}
        and (
            _is_number(release["day"])
            or (
                isinstance(release["day"], list)
                and len(release["day"]) == 2
                and all(_is_number(d) for d in release["day"])
                and release["day"][0] <= release["day"][1]
            )
        )
        and min(np.ravel(release["day"])) >= 0
    ):
        problems.append(
            f"{source}: release: expected {{day: N}} or {{day: [low, high]}}, got {release!r}"
        )
    if "version" in data and not (
        isinstance(data["version"], int) and not isinstance(data["version"], bool)
    ):
        problems.append(f"{source}: version: expected a whole number, got {data['version']!r}")
    if problems:
        raise UsageError("; ".join(problems))
    if seed < 0 or (operator_seed is not None and operator_seed < 0):
        raise UsageError(f"seeds are non-negative integers, got {seed}, {operator_seed}")
    rng = np.random.default_rng([seed if operator_seed is None else operator_seed, 7919])
    operators = []
    for op in ops_raw:
        params = {
            k: _draw(rng, op.get(k, default)) for k, (default, _) in OPERATOR_DEFAULTS.items()
        }
        operators.append(Operator(params))
    release_rng = np.random.default_rng([seed, 7920])
    release_day = float(_draw(release_rng, release["day"])) if isinstance(release, dict) else None
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
