"""STIX 2.1 bundles of our campaigns, built with the ``stix2`` library.

A bundle holds: the sharing identity (and the identity that defines our extension), our
``extension-definition``, the TLP 2.0 marking, each campaign (first/last seen, objective), the
operator as an intrusion set, indicators, relationships (indicator ``indicates`` campaign,
campaign ``attributed-to`` intrusion set) and one report. Sizes with intervals, capabilities
targeted and per-indicator counts travel in a property extension of ours. No observed-data.

Ids are UUIDv5 in the stillwatch namespace, from the producer's identity and the stable
campaign and operator ids, so re-exporting gives the same ids and a receiver updates instead of
duplicating. ``created``/``modified`` come from the campaign's first and last seen, so an
export with nothing new is byte for byte the same.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stix2

from stillwatch.errors import UsageError
from stillwatch.intel import patterns
from stillwatch.intel.indicators import SharedIndicator, SharingRules, campaign_indicators
from stillwatch.intel.keys import CommunityKey
from stillwatch.intel.shared import SharedCampaign
from stillwatch.intel.tlp import RAW_ALLOWED, TLP_CREATED, TLP_EXTENSION_ID, TLP_IDS

NAMESPACE = uuid.UUID("5e1083c5-6085-4c20-ac89-68e17b1cfbc5")
# Objects that never change carry this time, so they keep one version forever.
FIXED_TIME = datetime(2026, 1, 1, tzinfo=UTC)

PROJECT_IDENTITY_ID = f"identity--{uuid.uuid5(NAMESPACE, 'identity|stillwatch project')}"
EXTENSION_ID = (
    f"extension-definition--{uuid.uuid5(NAMESPACE, 'extension-definition|stillwatch-intel/1')}"
)
EXTENSION_VERSION = "1.0.0"
# The label of a campaign an analyst confirmed (its confidence is then 100).
CONFIRMED_LABEL = "analyst-confirmed"
EXTENSION_SCHEMA = (
    "stillwatch intel property extension v1 (docs/sharing.md). On campaign: accounts and "
    "exchanges as {estimate, low, high} integers, capabilities_targeted (list of strings), "
    "accounts_shared (member accounts whose values were shared). On indicator: kind "
    "(<name>/<version>), encoding (keyed-hash, keyed-minhash, raw), key_id (keyed encodings), "
    "accounts (campaign accounts carrying the value). On report: key_id, tlp."
)


def tlp_marking(level: str) -> stix2.MarkingDefinition:
    if level not in TLP_IDS:
        raise UsageError(f"--tlp: expected one of {', '.join(TLP_IDS)}, got {level!r}")
    return stix2.MarkingDefinition(
        id=TLP_IDS[level],
        created=TLP_CREATED,
        name=f"TLP:{level.upper()}",
        extensions={TLP_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": level}},
    )


def _id(kind: str, *parts: str) -> str:
    return f"{kind}--{uuid.uuid5(NAMESPACE, '|'.join((kind, *parts)))}"


def identity_id(name: str) -> str:
    return _id("identity", name)


@dataclass(frozen=True)
class ExportOptions:
    identity: str
    tlp: str
    min_confidence: int
    rules: SharingRules


@dataclass(frozen=True)
class Export:
    bundle: stix2.Bundle
    campaigns: int
    skipped_low_confidence: list[str]
    indicators: int

    def serialize(self) -> str:
        # Each object in the specification's property order. ``stix2``'s pretty form of a
        # whole bundle searches the whole bundle for every key (quadratic: 15 s for 200
        # indicators); object by object it is linear.
        objects = [json.loads(o.serialize(pretty=True)) for o in self.bundle.objects]
        body = {"type": "bundle", "id": self.bundle.id, "objects": objects}
        return json.dumps(body, indent=4) + "\n"


def _extension(**properties: Any) -> dict[str, Any]:
    return {EXTENSION_ID: {"extension_type": "property-extension", **properties}}


def _day(t: datetime) -> str:
    return t.strftime("%Y-%m-%d")


def export_bundle(
    campaigns: Sequence[SharedCampaign],
    key: CommunityKey,
    excluded: frozenset[str],
    options: ExportOptions,
) -> Export:
    """Build the bundle of ``campaigns`` at or above the minimum confidence."""
    marking = tlp_marking(options.tlp)
    if options.rules.allow_raw and options.tlp not in RAW_ALLOWED:
        raise UsageError(
            f"--allow-raw needs --tlp {', '.join(RAW_ALLOWED)}: TLP:{options.tlp.upper()} lets "
            "recipients pass raw values beyond their organizations"
        )
    kept = [c for c in campaigns if c.confidence >= options.min_confidence]
    skipped = [c.campaign_id for c in campaigns if c.confidence < options.min_confidence]
    if not kept:
        raise UsageError(
            f"nothing to export: no campaign has confidence >= {options.min_confidence} "
            f"(setting intel_min_confidence); {len(campaigns)} campaign(s) given"
        )
    producer = identity_id(options.identity)
    common: dict[str, Any] = {"object_marking_refs": [marking.id]}
    owned = {**common, "created_by_ref": producer}
    objects: list[Any] = [
        marking,
        stix2.Identity(
            id=PROJECT_IDENTITY_ID, created=FIXED_TIME, modified=FIXED_TIME,
            name="stillwatch project", identity_class="organization",
            description="Defines the stillwatch intel extension.", **common,
        ),
        stix2.ExtensionDefinition(
            id=EXTENSION_ID, created=FIXED_TIME, modified=FIXED_TIME,
            created_by_ref=PROJECT_IDENTITY_ID, name="stillwatch intel",
            description="Campaign sizes with intervals, capabilities targeted and indicator "
            "encodings of stillwatch distillation-campaign intelligence.",
            schema=EXTENSION_SCHEMA, version=EXTENSION_VERSION,
            extension_types=["property-extension"], **common,
        ),
        stix2.Identity(
            id=producer, created=FIXED_TIME, modified=FIXED_TIME, name=options.identity,
            identity_class="organization", description="Model provider sharing campaign intelligence.",
            **common,
        ),
    ]  # fmt: skip
    indicators: dict[str, dict[str, Any]] = {}
    relationships: list[Any] = []
    operators: dict[str, list[SharedCampaign]] = {}
    campaign_objects = []
    for c in sorted(kept, key=lambda c: c.campaign_id):
        cid = _id("campaign", producer, c.campaign_id)
        shared = [m for m in c.members if m.account_id not in excluded]
        campaign_objects.append(
            stix2.Campaign(
                id=cid, created=c.first_seen, modified=c.last_seen,
                name=f"Distillation campaign {cid[-12:]}",
                description=(
                    f"Accounts harvesting model outputs, seen {_day(c.first_seen)} to "
                    f"{_day(c.last_seen)}; capabilities targeted: "
                    f"{', '.join(c.capabilities) or 'not known'}."
                ),
                first_seen=c.first_seen, last_seen=c.last_seen, objective=c.objective,
                confidence=c.confidence,
                extensions=_extension(
                    accounts=c.accounts.as_dict(), exchanges=c.exchanges.as_dict(),
                    accounts_shared=len(shared),
                    # STIX allows no empty list: capabilities not known are left out
                    **({"capabilities_targeted": list(c.capabilities)} if c.capabilities else {}),
                ),
                **({"labels": [CONFIRMED_LABEL]} if c.confirmed else {}),
                **owned,
            )
        )  # fmt: skip
        if c.operator_id:
            operators.setdefault(c.operator_id, []).append(c)
        for ind in campaign_indicators(c, key, excluded, options.rules):
            _merge_indicator(indicators, ind, c, cid, producer, key.key_id)
    for operator_id, theirs in sorted(operators.items()):
        iid = _id("intrusion-set", producer, operator_id)
        first = min(c.first_seen for c in theirs)
        last = max(c.last_seen for c in theirs)
        objects.append(
            stix2.IntrusionSet(
                id=iid, created=first, modified=last, name=f"Operator {iid[-12:]}",
                description=f"Operator behind {len(theirs)} distillation campaign(s).",
                first_seen=first, last_seen=last, goals=sorted({c.objective for c in theirs}),
                confidence=max(c.confidence for c in theirs), **owned,
            )
        )  # fmt: skip
        for c in theirs:
            cid = _id("campaign", producer, c.campaign_id)
            relationships.append(
                _relationship(cid, "attributed-to", iid, c.first_seen, c.last_seen, owned)
            )
    objects.extend(campaign_objects)
    for pattern_key in sorted(indicators):
        spec = indicators[pattern_key]
        objects.append(stix2.Indicator(**spec["object"], **owned))
        for cid, (first, last) in sorted(spec["campaigns"].items()):
            relationships.append(
                _relationship(spec["object"]["id"], "indicates", cid, first, last, owned)
            )
    objects.extend(sorted(relationships, key=lambda r: r.id))
    refs = [
        o.id
        for o in objects
        if o.type not in ("marking-definition", "identity", "extension-definition")
    ]
    first = min(c.first_seen for c in kept)
    last = max(c.last_seen for c in kept)
    objects.append(
        stix2.Report(
            id=_id("report", producer, *sorted(c.campaign_id for c in kept)),
            created=first, modified=last, published=last,
            name=f"Distillation campaigns shared by {options.identity}",
            description=f"{len(kept)} campaign(s) with {len(indicators)} indicator(s).",
            report_types=["campaign", "indicator"], object_refs=refs,
            extensions=_extension(key_id=key.key_id, tlp=options.tlp),
            **owned,
        )
    )  # fmt: skip
    digest = hashlib.sha256(
        "\n".join(f"{o.id} {getattr(o, 'modified', '')}" for o in objects).encode()
    ).hexdigest()
    bundle = stix2.Bundle(objects=objects, id=_id("bundle", digest))
    return Export(bundle, len(kept), skipped, len(indicators))


def _relationship(
    source: str, kind: str, target: str, first: datetime, last: datetime, owned: dict[str, Any]
) -> Any:
    return stix2.Relationship(
        id=_id("relationship", kind, source, target), created=first, modified=last,
        relationship_type=kind, source_ref=source, target_ref=target, **owned,
    )  # fmt: skip


def _merge_indicator(
    indicators: dict[str, dict[str, Any]],
    ind: SharedIndicator,
    campaign: SharedCampaign,
    campaign_ref: str,
    producer: str,
    key_id: str,
) -> None:
    """One indicator object per pattern, across every campaign it indicates."""
    pattern_type, pattern = patterns.write(ind, key_id)
    spec = indicators.get(pattern)
    window = (campaign.first_seen, campaign.last_seen)
    if spec is None:
        props: dict[str, Any] = {
            "kind": ind.kind.tag,
            "encoding": ind.encoding,
            "accounts": ind.accounts,
        }
        if ind.encoding != "raw":
            props["key_id"] = key_id
        spec = indicators[pattern] = {
            "object": {
                "id": _id("indicator", producer, pattern_type, pattern),
                "name": f"{ind.kind.tag} {ind.encoding}",
                "description": _describe(ind),
                "indicator_types": ["malicious-activity"],
                "pattern": pattern,
                "pattern_type": pattern_type,
                "valid_from": campaign.first_seen,
                "created": campaign.first_seen,
                "modified": campaign.last_seen,
                "confidence": campaign.confidence,
                "extensions": _extension(**props),
            },
            "campaigns": {},
        }
    else:
        obj = spec["object"]
        obj["created"] = obj["valid_from"] = min(obj["created"], campaign.first_seen)
        obj["modified"] = max(obj["modified"], campaign.last_seen)
        obj["confidence"] = max(obj["confidence"], campaign.confidence)
        ext = obj["extensions"][EXTENSION_ID]
        ext["accounts"] = ext["accounts"] + ind.accounts
    spec["campaigns"][campaign_ref] = window


def _describe(ind: SharedIndicator) -> str:
    what = {
        "keyed-hash": "HMAC-SHA256 under the community key of the canonical value",
        "keyed-minhash": "keyed MinHash signature of the prompt frame, for near-duplicate matching",
        "raw": "raw canonical value (datacenter network or private mail domain)",
    }[ind.encoding]
    return f"{ind.kind.meaning}: {what}."
