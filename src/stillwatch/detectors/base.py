"""The shapes every detector shares: what it requires, the signals and links it emits, and the
context a scan hands it.

A detector is either a declarative rule (``rules/*.yaml``, compiled to an engine query over
``account_features``) or a small class. Both declare ``id``, ``version``, ``family``,
``requires`` (canonical ``table.column`` names; ``a|b`` means either) and ``evidence_keys``,
and return :class:`DetectorOutput`. Scores are in [0, 1], higher = more suspicious; evidence
is a small dict of the measured facts behind the score, written when the score is computed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from stillwatch.features.sources import Sources

# Each family of evidence belongs to one of three groups: a distillation campaign is a
# network (coordination) of fraudulent accounts (account) harvesting answers (usage).
FAMILY_GROUPS: dict[str, str] = {
    "account-profile": "account",
    "enforcement": "account",
    "infrastructure": "coordination",
    "synchrony": "coordination",
    "registration-burst": "coordination",
    "models": "coordination",
    "content-frames": "coordination",
    "prompt-hashes": "coordination",
    "partner-intel": "coordination",
    "rhythm": "usage",
    "volume": "usage",
    "tokens": "usage",
    "conversation": "usage",
    "content-elicitation": "usage",
    "content-capability": "usage",
}
FAMILIES = tuple(FAMILY_GROUPS)
GROUPS = ("account", "coordination", "usage")


@dataclass(frozen=True)
class Signal:
    """One detector's finding about one account."""

    detector: str
    version: str
    family: str
    account_id: str
    score: float
    evidence: Mapping[str, Any]
    entity_kind: str = "account"


@dataclass(frozen=True)
class LinkCandidate:
    """Two accounts a cross-account detector found tied; stored one row per endpoint."""

    detector: str
    link_type: str
    a: str
    b: str
    weight: float
    evidence: Mapping[str, Any]

    @property
    def link_id(self) -> str:
        lo, hi = sorted((self.a, self.b))
        return hashlib.sha256(f"{self.detector}\0{lo}\0{hi}".encode()).hexdigest()[:20]


def rounded(values: np.ndarray, places: int) -> np.ndarray:
    """``round(v, places)`` of each value, as Python rounds a float (to the nearest of its exact
    decimal value; NumPy's ``round`` scales first, which sends some halves the other way:
    0.11875 to 0.1188 where Python, and every link list before columns, gives 0.1187)."""
    return np.fromiter((round(v, places) for v in values.tolist()), float, len(values))


@dataclass(frozen=True)
class LinkColumns:
    """Links as columns, for a detector that pairs a million accounts: the same links as a
    list of :class:`LinkCandidate` (iterating gives them), without a Python object per link.
    Link ``i`` ties ``a[i]`` and ``b[i]`` (account ids, ``a[i] < b[i]``) with ``weight[i]``
    (rounded to 4 places), its type is ``link_type`` (or ``link_type[i]``), and its evidence
    is ``{key: evidence[key][i]}``."""

    detector: str
    link_type: str | np.ndarray
    a: np.ndarray
    b: np.ndarray
    weight: np.ndarray
    evidence: Mapping[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.a)

    def __iter__(self) -> Iterator[LinkCandidate]:
        columns = [(k, self.evidence[k]) for k in sorted(self.evidence)]
        for i in range(len(self)):
            # NumPy scalars as Python values, as a list of links holds them
            facts = {k: v.item() if isinstance(v, np.generic) else v
                     for k, v in ((k, col[i]) for k, col in columns)}  # fmt: skip
            kind = self.link_type if isinstance(self.link_type, str) else str(self.link_type[i])
            yield LinkCandidate(self.detector, kind, str(self.a[i]), str(self.b[i]),
                                float(self.weight[i]), facts)  # fmt: skip


@dataclass
class DetectorOutput:
    """Per-account scores with evidence, and optional pair candidates for the link stage
    (a list, or columns when there are many)."""

    account_ids: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    links: list[LinkCandidate] | LinkColumns = field(default_factory=list)

    def add(self, account_id: str, score: float, evidence: dict[str, Any]) -> None:
        if score > 0:
            self.account_ids.append(account_id)
            self.scores.append(float(min(1.0, score)))
            self.evidence.append(evidence)

    def frame(self) -> pd.DataFrame:
        """account_id, score, evidence; sorted by account for deterministic writes."""
        df = pd.DataFrame(
            {"account_id": self.account_ids, "score": self.scores, "evidence": self.evidence}
        )
        return df.sort_values("account_id", kind="stable").reset_index(drop=True)

    def signals(self, detector: Detector) -> list[Signal]:
        df = self.frame()
        return [
            Signal(detector.id, detector.version, detector.family, a, float(s), e)
            for a, s, e in zip(df.account_id, df.score, df.evidence, strict=True)
        ]


@dataclass
class ScanContext:
    """What a detector may read: the canonical tables (Ibis), this scan's account features
    (a DataFrame), the columns present, and which accounts earlier detectors linked
    (:meth:`linked_rows`; the link candidates themselves go to the store as they come)."""

    sources: Sources
    features: pd.DataFrame
    present: frozenset[str]
    settings: Mapping[str, Any] = field(default_factory=dict)
    features_table: Any = None  # the Ibis table of account_features for this scan
    # What one detector computed and another reads again in the same scan (the prompt sample,
    # its text features): kept for this scan only, keyed by what computed it.
    shared: dict[Any, Any] = field(default_factory=dict)
    # The detectors that have run so far in this scan (a detector may read what another left).
    ran: set[str] = field(default_factory=set)

    # the linked pairs so far, as rows of ``features``: eight bytes an end, not an object
    _linked: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    _rows: pd.Index | None = None  # ``features.account_id``, its hash table built once

    def setting(self, name: str, default: Any) -> Any:
        return self.settings.get(name, default)

    def note_links(self, links: Sequence[LinkCandidate] | LinkColumns) -> None:
        """Remember which accounts ``links`` pair (ends without features are left out)."""
        if not len(links):
            return
        if self._rows is None:
            self._rows = pd.Index(self.features.account_id)
        if isinstance(links, LinkColumns):
            a, b = self._rows.get_indexer(links.a), self._rows.get_indexer(links.b)
        else:
            a = self._rows.get_indexer([link.a for link in links])
            b = self._rows.get_indexer([link.b for link in links])
        known = (a >= 0) & (b >= 0)
        self._linked.append((a[known], b[known]))

    def linked_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """Every pair earlier detectors linked, as two arrays of ``features`` rows."""
        if not self._linked:
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
        return (np.concatenate([a for a, _ in self._linked]),
                np.concatenate([b for _, b in self._linked]))  # fmt: skip


def connection(ctx: ScanContext) -> Any:
    """The raw DuckDB connection the scan's tables live on (detectors that aggregate large
    intermediate tables keep them there, in temp tables, rather than in Python)."""
    backend = ctx.sources.exchanges._find_backend()
    con = getattr(backend, "con", None)
    if con is None or backend.name != "duckdb":
        raise RuntimeError(f"this detector runs on DuckDB, not on {backend.name}")
    return con


def temp_table(ctx: ScanContext, name: str, expr: Any) -> str:
    """Materialise Ibis expression ``expr`` as temp table ``name`` on the scan's DuckDB
    connection (replacing one of that name; in-memory tables it reads are registered)."""
    backend = ctx.sources.exchanges._find_backend()
    connection(ctx).execute(f"DROP TABLE IF EXISTS {name}")
    backend.create_table(name, expr, temp=True)
    return name


class Detector(Protocol):
    """What every detector declares (read-only: class attributes satisfy it)."""

    @property
    def id(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def family(self) -> str: ...
    @property
    def requires(self) -> tuple[str, ...]: ...
    @property
    def evidence_keys(self) -> tuple[str, ...]: ...
    @property
    def description(self) -> str: ...
    @property
    def false_positives(self) -> str: ...

    def run(self, ctx: ScanContext) -> DetectorOutput: ...


def missing_requirements(requires: Sequence[str], present: frozenset[str]) -> list[str]:
    """The requirements not met: ``table.column`` absent (every value NULL, or no rows);
    ``a|b`` is met when either is present."""
    missing = []
    for req in requires:
        if not any(alt.strip() in present for alt in req.split("|")):
            missing.append(req)
    return missing


def ramp(x: np.ndarray | float, start: float, end: float) -> np.ndarray:
    """0 at ``start``, 1 at ``end``, linear between (``end`` < ``start`` ramps downward);
    NaN stays 0."""
    arr = np.asarray(x, dtype=np.float64)
    out = (arr - start) / (end - start)
    return np.nan_to_num(np.clip(out, 0.0, 1.0), nan=0.0)


def check_param(name: str, value: object, low: float, high: float, integer: bool = False) -> None:
    """Parameters are validated up front: the message names the parameter, the allowed range
    and what was given."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and integer and not float(value).is_integer():  # type: ignore[arg-type]
        ok = False
    if ok and not (low <= float(value) <= high):  # type: ignore[arg-type]
        ok = False
    if not ok:
        kind = "an integer" if integer else "a number"
        raise ValueError(f"{name} must be {kind} in [{low}, {high}]; got {value!r}")
