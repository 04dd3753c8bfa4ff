"""Import: validated, with provenance, idempotent; a hostile bundle stores nothing."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import timedelta
from typing import Any

import pytest

from stillwatch.engine.store import Store
from stillwatch.intel.intake import import_bundle
from stillwatch.intel.keys import CommunityKey
from stillwatch.intel.shared import SharedCampaign
from stillwatch.intel.validate import BundleRejected
from tests.intel.sharing_fixtures import export

LIMITS = {"max_bytes": 1 << 20, "max_nesting": 32}


def _import(store: Store, bundle: Any, key: CommunityKey, source: str = "partner.json") -> Any:
    raw = bundle if isinstance(bundle, bytes) else json.dumps(bundle).encode()
    return import_bundle(store, raw, source, key, **LIMITS)


def _counts(store: Store) -> tuple[int, int]:
    return (
        int(store.scalar("SELECT count(*) FROM intel_bundles")),
        int(store.scalar("SELECT count(*) FROM intel_indicators")),
    )


def test_import_is_idempotent_and_keeps_provenance(
    store: Store, campaigns: list[SharedCampaign], key: CommunityKey
) -> None:
    bundle = export(campaigns, allow_raw=True)
    first = _import(store, bundle, key)
    assert (first.already_imported, first.indicators_new, first.indicators_updated) == (False, 9, 0)
    assert _counts(store) == (1, 9)
    again = _import(store, bundle, key)
    assert again.already_imported and _counts(store) == (1, 9)
    # The same bundle, reserialized (other bytes, same objects): no new indicators.
    third = _import(store, json.dumps(bundle, indent=1).encode(), key, "copy.json")
    assert (third.indicators_new, third.indicators_updated) == (0, 0)
    assert _counts(store) == (2, 9)
    row = store.sql(
        "SELECT source, producer_name, tlp, objects, campaigns FROM intel_bundles ORDER BY imported_at LIMIT 1"
    )[0]
    assert row == ("partner.json", "Provider A", "amber", len(bundle["objects"]), 2)
    kinds = dict(
        store.sql("SELECT kind || ' ' || encoding, count(*) FROM intel_indicators GROUP BY 1")
    )
    assert kinds == {
        "prompt-skeleton/1 keyed-hash": 2, "prompt-skeleton/1 keyed-minhash": 2,
        "tls-ja3/1 keyed-hash": 1, "tls-ja4/1 keyed-hash": 1,
        "ip-prefix/1 raw": 1, "email-domain/1 raw": 2,
    }  # fmt: skip
    refs = store.scalar("SELECT campaign_refs FROM intel_indicators WHERE kind = 'tls-ja4/1'")
    assert len(refs) == 2 and all(r.startswith("campaign--") for r in refs)


def test_a_newer_export_updates_in_place(
    store: Store, campaigns: list[SharedCampaign], key: CommunityKey
) -> None:
    _import(store, export(campaigns), key)
    later = [dataclasses.replace(c, last_seen=c.last_seen + timedelta(days=2)) for c in campaigns]
    result = _import(store, export(later), key)
    assert (result.indicators_new, result.indicators_updated) == (0, 6)
    assert _counts(store) == (2, 6)


def _deep(depth: int) -> bytes:
    return (
        b'{"type": "bundle", "id": "bundle--x", "objects": [' + b"[" * depth + b"]" * depth + b"]}"
    )


def _mutate(bundle: dict[str, Any], change: Any) -> dict[str, Any]:
    hostile = copy.deepcopy(bundle)
    change(hostile)
    return hostile


def _indicator(b: dict[str, Any]) -> dict[str, Any]:
    return next(o for o in b["objects"] if o["type"] == "indicator")


def _other_key_id(b: dict[str, Any]) -> None:
    indicator = _indicator(b)
    kind, scheme, _key_id, value = indicator["pattern"].split(":")
    indicator["pattern"] = ":".join((kind, scheme, "0" * 16, value))


HOSTILE = {
    "bad JSON": (lambda b: b'{"type": "bundle", "objects": [', "bad JSON at line 1"),
    "not UTF-8": (lambda b: b'{"type": "bundle\xff"}', "not UTF-8"),
    "deep nesting": (lambda b: _deep(5000), "nested deeper than 32"),
    "oversize": (lambda b: b" " * ((1 << 20) + 1), "the limit is 1,048,576"),
    "duplicate keys": (lambda b: b'{"type": "bundle", "type": "x"}', "appears twice"),
    "NaN": (lambda b: b'{"type": "bundle", "x": NaN}', "NaN is not JSON"),
    "not a bundle": (lambda b: {"type": "indicator"}, "not a STIX bundle"),
    "invalid STIX": (
        lambda b: _mutate(b, lambda h: _indicator(h).pop("pattern")),
        "invalid STIX 2.1",
    ),
    "custom property": (
        lambda b: _mutate(b, lambda h: _indicator(h).update(x_payload="<script>")),
        "invalid STIX 2.1",
    ),
    "validator": (
        lambda b: _mutate(b, lambda h: _indicator(h).pop("description")),
        "fails the STIX 2.1 validator",
    ),
    "unknown pattern type": (
        lambda b: _mutate(b, lambda h: _indicator(h).update(pattern_type="sigma")),
        "unknown pattern type 'sigma'",
    ),
    "stix pattern we cannot match": (
        lambda b: _mutate(
            b, lambda h: _indicator(h).update(pattern="[file:name = 'x.exe']", pattern_type="stix")
        ),
        "a STIX pattern stillwatch cannot match",
    ),
    "wrong key id": (
        lambda b: _mutate(b, _other_key_id),
        "made with community key id 0000000000000000",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_bundles_are_rejected_and_nothing_is_stored(
    case: str, store: Store, campaigns: list[SharedCampaign], key: CommunityKey
) -> None:
    make, reason = HOSTILE[case]
    with pytest.raises(BundleRejected, match=reason) as caught:
        _import(store, make(export(campaigns)), key, "hostile.json")
    assert str(caught.value).startswith("hostile.json: ") and "\n" not in str(caught.value)
    assert _counts(store) == (0, 0)


def test_a_bundle_made_with_another_key_is_rejected(
    store: Store, campaigns: list[SharedCampaign], key: CommunityKey
) -> None:
    theirs = CommunityKey(b"\x07" * 32)
    with pytest.raises(BundleRejected, match=f"ours is {key.key_id}"):
        _import(store, export(campaigns, key=theirs), key)
    assert _counts(store) == (0, 0)
