"""What every detection method hands the scorer: account scores and campaigns.

stillwatch's engine and every baseline produce the same two shapes, so one scorer treats them
alike (``shared/design/METRICS.md``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from stillwatch.bench.dataset import Dataset


@dataclass(frozen=True)
class Campaign:
    """One campaign a method reports at its default operating point."""

    accounts: tuple[str, ...]
    estimated_accounts: int
    estimated_exchanges: int
    exchanges_interval: tuple[int, int]
    first_day: date
    last_day: date
    operator_id: str | None = None
    # Methods that estimate the accounts with an interval report it; None: no interval.
    accounts_interval: tuple[int, int] | None = None
    # All the exchanges of its accounts (campaign and resold or legitimate), when reported.
    member_exchanges: int | None = None

    def __post_init__(self) -> None:
        if not self.accounts:
            raise ValueError("a campaign needs at least one account")
        if self.accounts_interval is not None:
            a_low, a_high = self.accounts_interval
            if not a_low <= self.estimated_accounts <= a_high:
                raise ValueError(
                    f"accounts_interval must hold estimated_accounts: "
                    f"got ({a_low}, {a_high}) around {self.estimated_accounts}"
                )
        low, high = self.exchanges_interval
        if not low <= self.estimated_exchanges <= high:
            raise ValueError(
                f"exchanges_interval must hold estimated_exchanges: "
                f"got ({low}, {high}) around {self.estimated_exchanges}"
            )
        if self.first_day > self.last_day:
            raise ValueError(f"first_day {self.first_day} is after last_day {self.last_day}")


@dataclass(frozen=True)
class AccountScores:
    """A score in [0, 1] for every account a method saw; higher = more likely campaign."""

    account_ids: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        ids = np.asarray(self.account_ids, dtype=object)
        values = np.asarray(self.values, dtype=np.float64)
        object.__setattr__(self, "account_ids", ids)
        object.__setattr__(self, "values", values)
        if ids.shape != values.shape or ids.ndim != 1:
            raise ValueError(
                f"account_ids and values must be 1-d and of one length: "
                f"got {ids.shape} and {values.shape}"
            )
        if len(np.unique(ids)) != len(ids):
            raise ValueError("account_ids must be unique")
        if not np.all(np.isfinite(values)) or np.any(values < 0) or np.any(values > 1):
            raise ValueError("account scores must be finite and in [0, 1]")

    @classmethod
    def from_mapping(cls, scores: Mapping[str, float]) -> AccountScores:
        return cls(np.array(list(scores.keys()), dtype=object), np.array(list(scores.values())))

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.account_ids.tolist(), self.values.tolist(), strict=True))

    def __len__(self) -> int:
        return len(self.account_ids)


@dataclass(frozen=True)
class MethodResult:
    """Account scores plus campaigns; an account belongs to at most one campaign."""

    account_scores: AccountScores
    campaigns: tuple[Campaign, ...] = field(default_factory=tuple)
    # Seconds of named stages inside the method's run (e.g. ``ingest``), reported apart.
    stage_seconds: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "campaigns", tuple(self.campaigns))
        members = [a for c in self.campaigns for a in c.accounts]
        if len(set(members)) != len(members):
            raise ValueError("an account appears in more than one campaign (or twice in one)")

    @property
    def flagged(self) -> set[str]:
        return {a for c in self.campaigns for a in c.accounts}


class Method(Protocol):
    """A detection method: parameters in ``__init__``, work in ``run``."""

    name: str
    version: str

    def params(self) -> dict[str, Any]: ...

    def run(self, dataset: Dataset) -> MethodResult: ...


# Parameter checks: each message names the parameter, what is allowed and what was given.


def check_number(
    name: str,
    value: object,
    *,
    low: float,
    high: float,
    low_open: bool = False,
    integer: bool = False,
) -> None:
    kind = "an integer" if integer else "a number"
    left = "(" if low_open else "["
    allowed = f"{kind} in {left}{low}, {high}]"
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if integer and is_number and not float(value).is_integer():  # type: ignore[arg-type]
        is_number = False
    if not is_number:
        raise ValueError(f"{name} must be {allowed}; got {value!r}")
    v = float(value)  # type: ignore[arg-type]
    if not np.isfinite(v) or v < low or v > high or (low_open and v == low):
        raise ValueError(f"{name} must be {allowed}; got {value!r}")


def check_choices(name: str, values: Sequence[str], allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    if isinstance(values, str) or not values:
        raise ValueError(
            f"{name} must be a non-empty list drawn from {list(allowed)}; got {values!r}"
        )
    bad = [v for v in values if v not in allowed]
    if bad:
        raise ValueError(f"{name} must be drawn from {list(allowed)}; got {list(values)!r}")
