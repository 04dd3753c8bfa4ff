"""Declarative rules: thresholds and simple aggregations over ``account_features``, written
in YAML (``rules/*.yaml``) and compiled to one engine query each.

A rule names the features it reads; its ``requires`` follow from them. Each *term* maps one
feature to [0, 1]: a ramp (``from`` → 0, ``to`` → 1, linear between, either direction) or a
match (``equals: value``); ``combine`` joins the terms (``mean``, ``min``, ``max``), and
``when`` limits the rule to accounts with enough data. Loading gathers every error in every
file, each with ``file:line``, before failing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import yaml

from stillwatch.detectors.base import FAMILIES, DetectorOutput, ScanContext
from stillwatch.errors import UsageError
from stillwatch.features.account import FEATURE_COLUMNS, FEATURE_REQUIRES

COMBINE = ("mean", "min", "max")
_RULE_KEYS = {"id", "version", "family", "description", "false_positives", "when", "terms",
              "combine"}  # fmt: skip
_TERM_KEYS = {"feature", "from", "to", "equals"}
_WHEN_KEYS = {"feature", "min", "max", "equals"}


class _Loader(yaml.SafeLoader):
    """Keeps each mapping's line number under ``__line__``."""


def _mapping(loader: _Loader, node: yaml.MappingNode) -> dict[str, Any]:
    value = {str(k): v for k, v in loader.construct_mapping(node, deep=True).items()}
    value["__line__"] = node.start_mark.line + 1
    return value


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


@dataclass(frozen=True)
class Term:
    feature: str
    start: float | None = None
    end: float | None = None
    equals: Any = None

    def expr(self, t: ir.Table) -> ir.FloatingValue:
        col = t[self.feature]
        if self.start is None or self.end is None:
            value = (col == self.equals).cast("float64")
        else:
            value = ((col.cast("float64") - self.start) / (self.end - self.start)).clip(0, 1)
        return value.fill_null(0.0)


@dataclass(frozen=True)
class Condition:
    feature: str
    low: float | None = None
    high: float | None = None
    equals: Any = None

    def expr(self, t: ir.Table) -> ir.BooleanValue:
        col = t[self.feature]
        out = col.notnull()
        if self.low is not None:
            out &= col >= self.low
        if self.high is not None:
            out &= col <= self.high
        if self.equals is not None:
            out &= col == self.equals
        return out


@dataclass(frozen=True)
class RuleDetector:
    """A rule compiled from YAML; run as one query over this scan's ``account_features``."""

    id: str
    version: str
    family: str
    description: str
    false_positives: str
    terms: tuple[Term, ...]
    when: tuple[Condition, ...]
    combine: str
    source: str

    @property
    def features(self) -> tuple[str, ...]:
        names = [t.feature for t in self.terms] + [c.feature for c in self.when]
        return tuple(dict.fromkeys(names))

    @property
    def requires(self) -> tuple[str, ...]:
        reqs = [r for f in self.features for r in FEATURE_REQUIRES.get(f, ())]
        return tuple(dict.fromkeys(reqs))

    @property
    def evidence_keys(self) -> tuple[str, ...]:
        return self.features

    def query(self, t: ir.Table) -> ir.Table:
        """The compiled engine query: account_id, score, and the features as evidence."""
        for c in self.when:
            t = t.filter(c.expr(t))
        values = [term.expr(t) for term in self.terms]
        if self.combine == "min":
            score = ibis.least(*values) if len(values) > 1 else values[0]
        elif self.combine == "max":
            score = ibis.greatest(*values) if len(values) > 1 else values[0]
        else:
            score = sum(values[1:], values[0]) / len(values)
        out = t.select("account_id", *self.features, score=score)
        return out.filter(out.score > 0)

    def run(self, ctx: ScanContext) -> DetectorOutput:
        out = DetectorOutput()
        if ctx.features_table is None:
            return out
        table = self.query(ctx.features_table).to_pyarrow().to_pylist()
        for row in table:
            evidence = {f: _plain(row[f]) for f in self.features}
            out.add(row["account_id"], float(row["score"]), evidence)
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    return value


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_rule(raw: Any, where: str, errors: list[str]) -> RuleDetector | None:
    if not isinstance(raw, dict):
        errors.append(f"{where}: a rule must be a mapping")
        return None
    line = raw.get("__line__", "?")
    at = f"{where}:{line}"
    bad = sorted(set(raw) - _RULE_KEYS - {"__line__"})
    if bad:
        errors.append(f"{at}: unknown key(s) {bad}; allowed {sorted(_RULE_KEYS)}")
    for key in ("id", "version", "family", "description", "false_positives", "terms"):
        if key not in raw:
            errors.append(f"{at}: missing {key!r}")
    if raw.get("family") is not None and raw.get("family") not in FAMILIES:
        errors.append(f"{at}: family {raw.get('family')!r} is not one of {list(FAMILIES)}")
    combine = raw.get("combine", "mean")
    if combine not in COMBINE:
        errors.append(f"{at}: combine {combine!r} is not one of {list(COMBINE)}")
    terms: list[Term] = []
    raw_terms = raw.get("terms") or []
    if not isinstance(raw_terms, list) or not raw_terms:
        errors.append(f"{at}: terms must be a non-empty list")
        raw_terms = []
    for term in raw_terms:
        t_at = f"{where}:{term.get('__line__', line)}" if isinstance(term, dict) else at
        if not isinstance(term, dict):
            errors.append(f"{t_at}: a term must be a mapping")
            continue
        extra = sorted(set(term) - _TERM_KEYS - {"__line__"})
        if extra:
            errors.append(f"{t_at}: unknown term key(s) {extra}; allowed {sorted(_TERM_KEYS)}")
        feature = term.get("feature")
        if feature not in FEATURE_COLUMNS:
            errors.append(f"{t_at}: unknown feature {feature!r} (see docs/store.md)")
        if "equals" in term:
            terms.append(Term(str(feature), equals=term["equals"]))
        elif _number(term.get("from")) and _number(term.get("to")) and term["from"] != term["to"]:
            terms.append(Term(str(feature), float(term["from"]), float(term["to"])))
        else:
            errors.append(f"{t_at}: a term needs numbers 'from' != 'to', or 'equals'")
    conditions: list[Condition] = []
    raw_when = raw.get("when") or []
    if not isinstance(raw_when, list):
        errors.append(f"{at}: when must be a list")
        raw_when = []
    for cond in raw_when:
        c_at = f"{where}:{cond.get('__line__', line)}" if isinstance(cond, dict) else at
        if not isinstance(cond, dict):
            errors.append(f"{c_at}: a condition must be a mapping")
            continue
        extra = sorted(set(cond) - _WHEN_KEYS - {"__line__"})
        if extra:
            errors.append(f"{c_at}: unknown condition key(s) {extra}; allowed {sorted(_WHEN_KEYS)}")
        if cond.get("feature") not in FEATURE_COLUMNS:
            errors.append(f"{c_at}: unknown feature {cond.get('feature')!r} (see docs/store.md)")
        for k in ("min", "max"):
            if k in cond and not _number(cond[k]):
                errors.append(f"{c_at}: {k} must be a number; got {cond[k]!r}")
        conditions.append(
            Condition(
                str(cond.get("feature")), cond.get("min"), cond.get("max"), cond.get("equals")
            )
        )
    if any(e.startswith(f"{where}:") for e in errors):
        return None
    return RuleDetector(
        id=str(raw["id"]),
        version=str(raw["version"]),
        family=str(raw["family"]),
        description=" ".join(str(raw["description"]).split()),
        false_positives=" ".join(str(raw["false_positives"]).split()),
        terms=tuple(terms),
        when=tuple(conditions),
        combine=combine,
        source=at,
    )


def parse_rules(text: str, where: str) -> tuple[list[RuleDetector], list[str]]:
    """Rules in one YAML document, and every error found in it (``where:line: …``)."""
    errors: list[str] = []
    try:
        doc = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else "?"
        return [], [f"{where}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}"]
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        return [], [f"{where}:1: expected a mapping with a list under 'rules'"]
    rules = []
    for raw in doc["rules"]:
        rule = _check_rule(raw, where, errors)
        if rule is not None:
            rules.append(rule)
    seen: dict[str, str] = {}
    for r in rules:
        if r.id in seen:
            errors.append(f"{r.source}: rule id {r.id!r} already defined at {seen[r.id]}")
        seen[r.id] = r.source
    return rules, errors


def builtin_rule_files() -> list[tuple[str, str]]:
    folder = resources.files("stillwatch.detectors").joinpath("rules")
    return sorted(
        (f"rules/{p.name}", p.read_text("utf-8"))
        for p in folder.iterdir()
        if p.name.endswith(".yaml")
    )


def load_rules(extra: Iterable[Path] = ()) -> list[RuleDetector]:
    """The built-in rules plus any rule files given; every error in every file at once."""
    files = builtin_rule_files()
    for path in extra:
        try:
            files.append((str(path), path.read_text("utf-8")))
        except OSError as exc:
            raise UsageError(f"{path}: cannot read rule file: {exc.strerror}") from None
    rules: list[RuleDetector] = []
    errors: list[str] = []
    for where, text in files:
        found, errs = parse_rules(text, where)
        rules.extend(found)
        errors.extend(errs)
    ids = [r.id for r in rules]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    for d in dupes:
        errors.append(f"rule id {d!r} is defined in more than one file")
    if errors:
        raise UsageError("invalid rules: " + "; ".join(errors))
    return rules
