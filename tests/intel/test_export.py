"""Exported bundles: strict STIX, validator-clean, deterministic, and nothing raw leaks."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import stix2
from stix2validator import ValidationOptions, validate_parsed_json
from stix2validator.v21.shoulds import CHECKS

from stillwatch.errors import UsageError
from stillwatch.intel.bundle import EXTENSION_ID, TLP_IDS
from stillwatch.intel.canonical import ip_prefix
from stillwatch.intel.keys import CommunityKey
from stillwatch.intel.shared import SharedCampaign
from stillwatch.intel.tlp import RAW_ALLOWED
from stillwatch.intel.validate import check_stix
from tests.intel.sharing_fixtures import export

GOLDEN = Path(__file__).parent / "golden" / "bundle-amber.json"


def _by_type(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [o for o in bundle["objects"] if o["type"] == kind]


def test_bundle_parses_strictly_and_passes_the_validator(campaigns: list[SharedCampaign]) -> None:
    for tlp in TLP_IDS:
        for allow_raw in (False, True) if tlp in RAW_ALLOWED else (False,):
            bundle = export(campaigns, tlp=tlp, allow_raw=allow_raw)
            stix2.parse(bundle, allow_custom=False)
            check_stix(bundle, "export")  # every check on but the two relaxed ones
    # With every check on, the only complaints are the two relaxed ones, nothing else.
    leaves = [k for k, v in CHECKS.items() if not isinstance(v, list)]
    result = validate_parsed_json(bundle, ValidationOptions(strict=True, enabled=leaves))
    codes = {re.search(r"\{(\d+)\}", str(e))[1] for e in result.errors}  # type: ignore[index]
    assert codes == {"103", "245"}  # uuid-check (our ids are UUIDv5), pattern types (custom)


def test_golden_bundle(campaigns: list[SharedCampaign]) -> None:
    text = json.dumps(export(campaigns), indent=4, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), "rerun with UPDATE_GOLDEN=1 and review the diff"


def test_bundle_contents(campaigns: list[SharedCampaign]) -> None:
    bundle = export(campaigns)
    kinds = [o["type"] for o in bundle["objects"]]
    assert "observed-data" not in kinds
    assert kinds.count("campaign") == 2  # the third is below the minimum confidence
    assert kinds.count("intrusion-set") == 1 and kinds.count("report") == 1
    (grader,) = [c for c in _by_type(bundle, "campaign") if c["confidence"] == 88]
    ext = grader["extensions"][EXTENSION_ID]
    assert ext["accounts"] == {"estimate": 412, "low": 380, "high": 455}
    assert ext["exchanges"] == {"estimate": 181000, "low": 150000, "high": 199000}
    assert ext["capabilities_targeted"] == ["reasoning", "grading"]
    assert ext["accounts_shared"] == 5  # six members, one allowlisted
    assert grader["first_seen"].startswith("2026-04-22") and grader["objective"]
    for obj in bundle["objects"]:
        if obj["type"] != "marking-definition":
            assert obj["object_marking_refs"] == [TLP_IDS["amber"]]
    rels = {(r["relationship_type"], r["source_ref"].split("--")[0], r["target_ref"].split("--")[0])
            for r in _by_type(bundle, "relationship")}  # fmt: skip
    assert rels == {
        ("indicates", "indicator", "campaign"),
        ("attributed-to", "campaign", "intrusion-set"),
    }
    tags = sorted(
        (i["extensions"][EXTENSION_ID]["kind"], i["extensions"][EXTENSION_ID]["encoding"])
        for i in _by_type(bundle, "indicator")
    )
    assert tags == [
        ("prompt-skeleton/1", "keyed-hash"), ("prompt-skeleton/1", "keyed-hash"),
        ("prompt-skeleton/1", "keyed-minhash"), ("prompt-skeleton/1", "keyed-minhash"),
        ("tls-ja3/1", "keyed-hash"), ("tls-ja4/1", "keyed-hash"),
    ]  # fmt: skip
    (ja4,) = [i for i in _by_type(bundle, "indicator") if i["pattern"].startswith("tls-ja4")]
    assert ja4["extensions"][EXTENSION_ID]["accounts"] == 5  # 3 + 2 across both campaigns
    # two attributed-to; one indicates per indicator and campaign (the JA4 one indicates both)
    assert len(_by_type(bundle, "relationship")) == 2 + 7


def test_reexport_keeps_ids_and_updates_versions(campaigns: list[SharedCampaign]) -> None:
    first = export(campaigns)
    assert export(campaigns) == first  # byte for byte
    later = [dataclasses.replace(c, last_seen=c.last_seen + timedelta(days=3)) for c in campaigns]
    second = export(later)
    ids = lambda b: sorted(o["id"] for o in b["objects"] if o["type"] != "bundle")  # noqa: E731
    assert ids(first) == ids(second)
    (c1,) = [c for c in _by_type(first, "campaign") if c["confidence"] == 88]
    (c2,) = [c for c in _by_type(second, "campaign") if c["id"] == c1["id"]]
    assert c2["modified"] > c1["modified"] and c2["created"] == c1["created"]
    # another provider exporting the same campaign ids gets its own objects
    other = export(campaigns, identity="Provider B")
    assert not set(ids(other)) & {
        i for i in ids(first) if i.split("--")[0] in ("campaign", "indicator")
    }


def _raw_values(campaigns: list[SharedCampaign]) -> dict[str, set[str]]:
    raw: dict[str, set[str]] = {"ip": set(), "account": set(), "domain": set(), "prompt": set()}
    for c in campaigns:
        raw["account"].add(c.campaign_id)
        if c.operator_id:
            raw["account"].add(c.operator_id)
        for m in c.members:
            raw["account"].add(m.account_id)
            for ip in m.ips:
                raw["ip"].add(ip)
                prefix = ip_prefix(ip)
                assert prefix
                raw["ip"].add(prefix)
                net = ipaddress.ip_network(prefix)
                raw["ip"].add(
                    str(net.network_address).rsplit("." if net.version == 4 else ":", 1)[0]
                )
            if m.email_domain:
                raw["domain"].add(m.email_domain)
            for p in m.prompts:
                words = p.split()
                raw["prompt"].update(" ".join(words[i : i + 4]) for i in range(len(words) - 3))
    return raw


def test_no_raw_value_in_any_exported_bundle(
    campaigns: list[SharedCampaign], key: CommunityKey
) -> None:
    raw = _raw_values(campaigns)
    assert len(raw["prompt"]) > 100 and len(raw["ip"]) > 20
    for tlp in TLP_IDS:
        for min_confidence in (0, 70):
            text = json.dumps(export(campaigns, tlp=tlp, min_confidence=min_confidence)).lower()
            for kind, values in raw.items():
                leaked = sorted(v for v in values if v.lower() in text)
                assert not leaked, f"{kind} values in a {tlp} bundle: {leaked[:5]}"
            assert key.secret.hex() not in text


def test_allow_raw_shares_only_datacenter_prefixes_and_private_domains(
    campaigns: list[SharedCampaign],
) -> None:
    bundle = export(campaigns, allow_raw=True)
    raw = sorted(i["pattern"] for i in _by_type(bundle, "indicator") if i["pattern_type"] == "stix")
    assert raw == [
        "[email-addr:value LIKE '%@codeharvest.example']",
        "[email-addr:value LIKE '%@quillfarm-mail.example']",
        "[ipv4-addr:value ISSUBSET '198.51.100.0/24']",
    ]
    text = json.dumps(bundle)
    for never in ("203.0.113", "2001:db8:4a1c", "gmail.com", "198.51.100.17", "allowlisted-lab"):
        assert never not in text  # residential, mobile, public mail, whole addresses, excluded


def test_raw_values_only_under_amber_or_stricter(campaigns: list[SharedCampaign]) -> None:
    for tlp in ("clear", "green"):
        with pytest.raises(UsageError, match="--allow-raw needs --tlp amber"):
            export(campaigns, tlp=tlp, allow_raw=True)


def test_allow_raw_never_shares_a_prefix_of_unknown_kind(campaigns: list[SharedCampaign]) -> None:
    unknown = [dataclasses.replace(c, networks={}) for c in campaigns]
    text = json.dumps(export(unknown, allow_raw=True))
    assert "198.51.100" not in text and "ipv4-addr" not in text


def test_excluded_accounts_contribute_nothing(
    campaigns: list[SharedCampaign], key: CommunityKey
) -> None:
    go_hash = key.keyed_hash("tls-ja4/1", "t13d1311h2_f57a46bbacb6_ab7e3b40a677")
    with_everyone = json.dumps(export(campaigns, excluded=frozenset()))
    assert go_hash in with_everyone  # acct-105 and acct-106 share it
    assert go_hash not in json.dumps(export(campaigns))  # acct-106 is allowlisted


def test_minimum_confidence(campaigns: list[SharedCampaign]) -> None:
    assert len(_by_type(export(campaigns, min_confidence=0), "campaign")) == 3
    assert len(_by_type(export(campaigns, min_confidence=80), "campaign")) == 1
    with pytest.raises(UsageError, match="no campaign has confidence >= 95"):
        export(campaigns, min_confidence=95)
