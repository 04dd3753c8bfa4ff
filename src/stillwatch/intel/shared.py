"""What a campaign shares: the input shape of ``intel export``, independent of the store.

A ``SharedCampaign`` holds what a partner may learn about one campaign: stable ids, first and
last seen, objective, capabilities targeted, size estimates with intervals, confidence, and
its member accounts' raw values per indicator kind (addresses, e-mail domain, TLS
fingerprints, prompts). Raw values never leave this module's callers as such: ``indicators``
turns them into keyed hashes or drops them.

The shape is filled from the store's campaign tables by ``stillwatch.intel.stored`` (the
default of ``intel export`` and ``intel psi``), or read from a JSON file (``--campaigns FILE``,
format ``stillwatch-shared-campaigns/1``), for campaigns found elsewhere.

The file::

    {"format": "stillwatch-shared-campaigns/1",
     "campaigns": [{"campaign_id": "c-1", "operator_id": "op-1",
                    "first_seen": "2026-04-22T00:00:00Z", "last_seen": "2026-06-05T00:00:00Z",
                    "objective": "...", "capabilities": ["coding"],
                    "accounts": {"estimate": 40, "low": 36, "high": 45},
                    "exchanges": {"estimate": 9000, "low": 8000, "high": 9800},
                    "confidence": 85,
                    "networks": {"198.51.100.0/24": "datacenter"},
                    "members": [{"account_id": "a1", "ips": ["198.51.100.7"],
                                 "email_domain": "example.net",
                                 "tls_fingerprints": ["t13d1516h2_8daaf6152771_02713d6af862"],
                                 "prompts": ["..."]}]}]}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stillwatch.errors import InputError
from stillwatch.intel.canonical import ip_prefix

FORMAT = "stillwatch-shared-campaigns/1"
# Kinds of network an address belongs to. Raw prefixes may be shared only for the first two:
# residential, mobile and unknown networks hold ordinary people, and business and education
# networks put whole organizations behind one address.
NETWORK_KINDS = (
    "datacenter",
    "hosting",
    "residential",
    "mobile",
    "business",
    "education",
    "unknown",
)
RAW_SHAREABLE_NETWORKS = frozenset({"datacenter", "hosting"})


@dataclass(frozen=True)
class Estimate:
    """A count with its interval: ``low <= estimate <= high``."""

    estimate: int
    low: int
    high: int

    def as_dict(self) -> dict[str, int]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class Member:
    """One member account and its raw values per indicator kind."""

    account_id: str
    ips: tuple[str, ...] = ()
    email_domain: str | None = None
    tls_fingerprints: tuple[str, ...] = ()
    prompts: tuple[str, ...] = ()


@dataclass(frozen=True)
class SharedCampaign:
    campaign_id: str
    operator_id: str | None
    first_seen: datetime
    last_seen: datetime
    objective: str
    capabilities: tuple[str, ...]
    accounts: Estimate
    exchanges: Estimate
    confidence: int
    members: tuple[Member, ...]
    networks: Mapping[str, str] = field(default_factory=dict)
    # An analyst confirmed it (the casebook's latest verdict on the campaign): the bundle
    # labels it ``analyst-confirmed``.
    confirmed: bool = False
    # (kind tag, canonical value) pairs its members carry that are not the campaign's own: in
    # our traffic more accounts outside the campaign hold them than inside (a popular client's
    # TLS fingerprint, a mobile carrier's range, an ordinary prompt frame). Never shared, never
    # a PSI item.
    common: frozenset[tuple[str, str]] = frozenset()

    def network_of(self, address: str) -> str:
        """The kind of network ``address`` is in: by the address itself, else its prefix."""
        if address in self.networks:
            return self.networks[address]
        prefix = ip_prefix(address)
        return self.networks.get(prefix, "unknown") if prefix else "unknown"


class _Reader:
    """Reads one file's campaigns, naming the path of every bad value."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, problem: str) -> InputError:
        return InputError(str(self.path), f"{where}: {problem}")

    def text(self, obj: Mapping[str, Any], key: str, where: str, *, optional: bool = False) -> Any:
        value = obj.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{where}.{key}", f"expected a non-empty string, got {value!r}")
        return value

    def texts(self, obj: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
        value = obj.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"{where}.{key}", "expected a list of strings")
        return tuple(value)

    def time(self, obj: Mapping[str, Any], key: str, where: str) -> datetime:
        raw = self.text(obj, key, where)
        try:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise self.fail(f"{where}.{key}", f"not an RFC 3339 time: {raw!r}") from None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def estimate(self, obj: Mapping[str, Any], key: str, where: str) -> Estimate:
        raw = obj.get(key)
        if not isinstance(raw, dict) or not all(
            isinstance(raw.get(k), int) and not isinstance(raw.get(k), bool)
            for k in ("estimate", "low", "high")
        ):
            raise self.fail(f"{where}.{key}", "expected {estimate, low, high} integers")
        est = Estimate(raw["estimate"], raw["low"], raw["high"])
        if not 0 <= est.low <= est.estimate <= est.high:
            raise self.fail(f"{where}.{key}", f"needs 0 <= low <= estimate <= high, got {raw}")
        return est

    def member(self, raw: Any, where: str) -> Member:
        if not isinstance(raw, dict):
            raise self.fail(where, "expected an object")
        return Member(
            account_id=self.text(raw, "account_id", where),
            ips=self.texts(raw, "ips", where),
            email_domain=self.text(raw, "email_domain", where, optional=True),
            tls_fingerprints=self.texts(raw, "tls_fingerprints", where),
            prompts=self.texts(raw, "prompts", where),
        )

    def campaign(self, raw: Any, where: str) -> SharedCampaign:
        if not isinstance(raw, dict):
            raise self.fail(where, "expected an object")
        confidence = raw.get("confidence")
        if (
            not isinstance(confidence, int)
            or isinstance(confidence, bool)
            or not 0 <= confidence <= 100
        ):
            raise self.fail(f"{where}.confidence", f"expected an integer 0-100, got {confidence!r}")
        networks = raw.get("networks", {})
        if not isinstance(networks, dict):
            raise self.fail(f"{where}.networks", "expected an object of prefix -> network kind")
        for prefix, kind in networks.items():
            if kind not in NETWORK_KINDS:
                raise self.fail(
                    f"{where}.networks[{prefix!r}]",
                    f"unknown network kind {kind!r}; known: {', '.join(NETWORK_KINDS)}",
                )
        members = raw.get("members")
        if not isinstance(members, list):
            raise self.fail(f"{where}.members", "expected a list")
        first, last = self.time(raw, "first_seen", where), self.time(raw, "last_seen", where)
        if last < first:
            raise self.fail(where, "last_seen is before first_seen")
        return SharedCampaign(
            campaign_id=self.text(raw, "campaign_id", where),
            operator_id=self.text(raw, "operator_id", where, optional=True),
            first_seen=first,
            last_seen=last,
            objective=self.text(raw, "objective", where),
            capabilities=self.texts(raw, "capabilities", where),
            accounts=self.estimate(raw, "accounts", where),
            exchanges=self.estimate(raw, "exchanges", where),
            confidence=confidence,
            members=tuple(self.member(m, f"{where}.members[{i}]") for i, m in enumerate(members)),
            networks=dict(networks),
        )


def load_campaigns(path: Path) -> list[SharedCampaign]:
    """Read a ``stillwatch-shared-campaigns/1`` file; one clear error for anything wrong."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(str(path), "no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(str(path), f"not readable JSON: {exc}") from None
    reader = _Reader(path)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise reader.fail("format", f"expected {FORMAT!r}")
    raw = data.get("campaigns")
    if not isinstance(raw, list):
        raise reader.fail("campaigns", "expected a list")
    campaigns = [reader.campaign(c, f"campaigns[{i}]") for i, c in enumerate(raw)]
    seen: set[str] = set()
    for c in campaigns:
        if c.campaign_id in seen:
            raise reader.fail("campaigns", f"campaign id {c.campaign_id!r} appears twice")
        seen.add(c.campaign_id)
    return campaigns


def read_exclusions(path: Path | None) -> frozenset[str]:
    """Account ids never to export (dismissed by analysts, allowlisted): one per line, ``#``
    starts a comment."""
    if path is None:
        return frozenset()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(str(path), "no such file", "account ids, one per line") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(str(path), f"unreadable: {exc}") from None
    return frozenset(s for line in lines if (s := line.split("#", 1)[0].strip()))
