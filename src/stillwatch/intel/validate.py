"""Checks a partner's bundle before anything of it is stored.

In order, stopping at the first failure with one clear reason:

1. size: at most ``intel_max_bundle_bytes``;
2. UTF-8 JSON, nested at most ``intel_max_nesting`` deep (checked before parsing, so a hostile
   ``[[[[…`` never reaches the parser's recursion), no duplicate keys, no NaN or Infinity;
3. a STIX 2.1 bundle by strict ``stix2`` parsing (no custom objects or properties);
4. the OASIS ``stix2-validator`` in strict mode (SHOULDs are errors) with every check on except
   two: ``indicator-pattern-types`` (our pattern types are custom, as STIX allows) and
   ``uuid-check`` (deterministic UUIDv5 ids, so re-exports update instead of duplicating,
   where the specification prefers UUIDv4);
5. every indicator's pattern is one stillwatch can match (``patterns``), its keyed values
   were made with our community key (the key id), and its extension agrees with its pattern.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import stix2
import stix2.exceptions
from stix2validator import ValidationOptions, validate_parsed_json
from stix2validator.v21.shoulds import CHECKS

from stillwatch.errors import InputError
from stillwatch.intel import patterns
from stillwatch.intel.bundle import EXTENSION_ID
from stillwatch.intel.keys import CommunityKey
from stillwatch.intel.tlp import TLP_IDS

RELAXED_CHECKS = ("indicator-pattern-types", "uuid-check")
MAX_OBJECTS = 100_000
_TLP_BY_ID = {v: k for k, v in TLP_IDS.items()}


class BundleRejected(InputError):
    """A bundle that is not stored; the message says why."""


@dataclass(frozen=True)
class ImportedIndicator:
    stix_id: str
    kind: str
    encoding: str
    value: str
    key_id: str | None
    campaign_refs: tuple[str, ...]
    confidence: int | None
    partner_accounts: int | None
    tlp: str | None
    valid_from: datetime
    modified: datetime


@dataclass(frozen=True)
class ValidBundle:
    bundle_id: str
    producer_id: str
    producer_name: str
    tlp: str | None
    objects: int
    campaigns: int
    indicators: list[ImportedIndicator]


def nesting_depth(text: str, limit: int) -> int:
    """Depth of JSON nesting, stopping as soon as it passes ``limit``; strings are skipped."""
    depth = deepest = 0
    for m in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', text):
        c = m.group()
        if c in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif c in "]}":
            depth -= 1
    return deepest


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"key {k!r} appears twice in one object")
        out[k] = v
    return out


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes, source: str, max_bytes: int, max_nesting: int) -> Any:
    if len(raw) > max_bytes:
        raise BundleRejected(
            source,
            f"is {len(raw):,} bytes; the limit is {max_bytes:,} (setting intel_max_bundle_bytes)",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BundleRejected(source, f"not UTF-8 at byte {exc.start}") from None
    depth = nesting_depth(text, max_nesting)
    if depth > max_nesting:
        raise BundleRejected(
            source, f"JSON nested deeper than {max_nesting} levels (setting intel_max_nesting)"
        )
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise BundleRejected(
            source, f"bad JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except ValueError as exc:
        raise BundleRejected(source, f"bad JSON: {exc}") from None


def _validator_options() -> ValidationOptions:
    leaves = [k for k, v in CHECKS.items() if not isinstance(v, list) and k not in RELAXED_CHECKS]
    return ValidationOptions(strict=True, enabled=leaves, version="2.1")


def check_stix(data: Any, source: str) -> None:
    """Strict ``stix2`` parsing, then the OASIS validator with only the relaxed checks off."""
    if not isinstance(data, dict) or data.get("type") != "bundle":
        raise BundleRejected(source, 'not a STIX bundle (top-level "type" must be "bundle")')
    objects = data.get("objects")
    if not isinstance(objects, list) or not objects:
        raise BundleRejected(source, 'a bundle needs a non-empty "objects" list')
    if len(objects) > MAX_OBJECTS:
        raise BundleRejected(source, f"{len(objects):,} objects; at most {MAX_OBJECTS:,} are read")
    for i, o in enumerate(objects):
        if (
            not isinstance(o, dict)
            or not isinstance(o.get("type"), str)
            or not isinstance(o.get("id"), str)
        ):
            raise BundleRejected(
                source, f'objects[{i}]: every object needs a string "type" and "id"'
            )
    try:
        stix2.parse(data, allow_custom=False)
    except (stix2.exceptions.STIXError, ValueError, TypeError, KeyError) as exc:
        raise BundleRejected(
            source, f"invalid STIX 2.1: {str(exc).splitlines()[0][:300]}"
        ) from None
    try:
        results = validate_parsed_json(data, _validator_options())
    except Exception as exc:  # the validator has no error type of its own for what it cannot read
        raise BundleRejected(
            source, f"the STIX 2.1 validator cannot read it: {type(exc).__name__}: {str(exc)[:200]}"
        ) from None
    errors = [e for r in (results if isinstance(results, list) else [results]) for e in r.errors]
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise BundleRejected(source, f"fails the STIX 2.1 validator: {str(errors[0])[:300]}{more}")


def _time(value: Any) -> datetime:
    return value if isinstance(value, datetime) else stix2.utils.parse_into_datetime(value)


def check_indicators(data: dict[str, Any], source: str, key: CommunityKey) -> ValidBundle:
    """What stillwatch can match, made with our key; one producer per bundle."""
    objects: list[dict[str, Any]] = data["objects"]
    identities = {o["id"]: o.get("name", "") for o in objects if o["type"] == "identity"}
    indicates: dict[str, set[str]] = defaultdict(set)
    for o in objects:
        if o["type"] == "relationship" and o["relationship_type"] == "indicates":
            indicates[o["source_ref"]].add(o["target_ref"])
    found: list[ImportedIndicator] = []
    producers: set[str] = set()
    for o in objects:
        if o["type"] != "indicator":
            continue
        where = o["id"]
        try:
            parsed = patterns.read(o["pattern_type"], o["pattern"])
        except patterns.PatternError as exc:
            raise BundleRejected(source, f"{where}: {exc}") from None
        if parsed.key_id is not None and parsed.key_id != key.key_id:
            raise BundleRejected(
                source,
                f"{where}: made with community key id {parsed.key_id}, ours is {key.key_id}; "
                "ask the sender which community key they used",
            )
        ext = o.get("extensions", {}).get(EXTENSION_ID, {})
        if ext and (ext.get("kind") != parsed.kind.tag or ext.get("encoding") != parsed.encoding):
            raise BundleRejected(
                source,
                f"{where}: extension says {ext.get('kind')} {ext.get('encoding')}, the pattern {parsed.kind.tag} {parsed.encoding}",
            )
        accounts = ext.get("accounts")
        producer = o.get("created_by_ref")
        if not isinstance(producer, str) or producer not in identities:
            raise BundleRejected(
                source, f"{where}: created_by_ref must name an identity in the bundle"
            )
        producers.add(producer)
        tlps = [_TLP_BY_ID[m] for m in o.get("object_marking_refs", []) if m in _TLP_BY_ID]
        found.append(
            ImportedIndicator(
                stix_id=o["id"], kind=parsed.kind.tag, encoding=parsed.encoding, value=parsed.value,
                key_id=parsed.key_id, campaign_refs=tuple(sorted(indicates.get(o["id"], ()))),
                confidence=o.get("confidence"),
                partner_accounts=accounts if isinstance(accounts, int) and not isinstance(accounts, bool) else None,
                tlp=max(tlps, key=list(TLP_IDS).index) if tlps else None,
                valid_from=_time(o["valid_from"]), modified=_time(o["modified"]),
            )
        )  # fmt: skip
    if not found:
        raise BundleRejected(source, "holds no indicator")
    if len(producers) > 1:
        raise BundleRejected(
            source, f"indicators from {len(producers)} producers; one bundle, one producer"
        )
    producer = producers.pop()
    levels = [i.tlp for i in found if i.tlp]
    return ValidBundle(
        bundle_id=data["id"], producer_id=producer, producer_name=identities[producer],
        tlp=max(levels, key=list(TLP_IDS).index) if levels else None, objects=len(objects),
        campaigns=sum(1 for o in objects if o["type"] == "campaign"), indicators=found,
    )  # fmt: skip


def validate_bundle(
    raw: bytes, source: str, key: CommunityKey, *, max_bytes: int, max_nesting: int
) -> ValidBundle:
    data = parse_json(raw, source, max_bytes, max_nesting)
    check_stix(data, source)
    return check_indicators(data, source, key)
