"""What one campaign shares as indicators, after exclusions and the privacy rules.

- Accounts in the exclusion set (dismissed by analysts, allowlisted) contribute nothing.
- Values common outside the campaign in our own traffic (``SharedCampaign.common``) are not
  the campaign's and are not shared.
- A value is shared only when at least ``min_accounts`` member accounts carry it: a value of a
  single account is weak evidence and, in a hydra account, may be a resold customer's.
- High-entropy kinds (TLS fingerprints, prompt skeletons) travel as keyed hashes; skeletons
  also as keyed MinHash signatures.
- Low-entropy kinds (IP prefixes, e-mail domains) never travel as hashes (a member can hash
  every /24). With ``allow_raw`` they travel raw: a prefix only when every member address in
  it is in a datacenter or hosting network, a domain only when it is not a public mail
  service. Otherwise they are left to private set intersection (``intel psi``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from stillwatch.intel import minhash
from stillwatch.intel.canonical import (
    EMAIL_DOMAIN,
    IP_PREFIX,
    PROMPT_SKELETON,
    PUBLIC_MAIL_DOMAINS,
    Kind,
    email_domain,
    ip_prefix,
    skeleton,
    tls_fingerprint,
)
from stillwatch.intel.keys import CommunityKey
from stillwatch.intel.shared import RAW_SHAREABLE_NETWORKS, Member, SharedCampaign

Encoding = Literal["keyed-hash", "keyed-minhash", "raw"]


@dataclass(frozen=True)
class SharedIndicator:
    """One indicator of a campaign: its kind, how it is encoded, the encoded value, and how
    many of the campaign's shared accounts carry it."""

    kind: Kind
    encoding: Encoding
    value: str
    accounts: int


@dataclass(frozen=True)
class SharingRules:
    min_accounts: int = 2
    max_skeletons: int = 50
    allow_raw: bool = False


def member_values(member: Member) -> set[tuple[Kind, str]]:
    """The (kind, canonical value) pairs one member account carries."""
    values: set[tuple[Kind, str]] = set()
    for address in member.ips:
        if prefix := ip_prefix(address):
            values.add((IP_PREFIX, prefix))
    if member.email_domain and (domain := email_domain(member.email_domain)):
        values.add((EMAIL_DOMAIN, domain))
    for fingerprint in member.tls_fingerprints:
        if found := tls_fingerprint(fingerprint):
            values.add(found)
    for prompt in member.prompts:
        if frame := skeleton(prompt):
            values.add((PROMPT_SKELETON, frame))
    return values


def _raw_allowed(campaign: SharedCampaign, kind: Kind, canonical: str, raws: Iterable[str]) -> bool:
    if kind is IP_PREFIX:
        return all(campaign.network_of(a) in RAW_SHAREABLE_NETWORKS for a in raws)
    if kind is EMAIL_DOMAIN:
        return canonical not in PUBLIC_MAIL_DOMAINS
    return False


def campaign_indicators(
    campaign: SharedCampaign,
    key: CommunityKey,
    excluded: frozenset[str],
    rules: SharingRules,
) -> list[SharedIndicator]:
    """The indicators ``campaign`` shares, in a stable order."""
    carriers: dict[tuple[Kind, str], set[str]] = defaultdict(set)
    raws: dict[tuple[Kind, str], set[str]] = defaultdict(set)
    for member in campaign.members:
        if member.account_id in excluded:
            continue
        for kind, canonical in member_values(member):
            if (kind.tag, canonical) not in campaign.common:
                carriers[(kind, canonical)].add(member.account_id)
        for address in member.ips:
            prefix = ip_prefix(address)
            if prefix:
                raws[(IP_PREFIX, prefix)].add(address)
    out: list[SharedIndicator] = []
    skeletons: list[tuple[int, str]] = []
    for (kind, canonical), accounts in carriers.items():
        n = len(accounts)
        if n < rules.min_accounts:
            continue
        if kind.entropy == "low":
            if rules.allow_raw and _raw_allowed(campaign, kind, canonical, raws[(kind, canonical)]):
                out.append(SharedIndicator(kind, "raw", canonical, n))
        elif kind is PROMPT_SKELETON:
            skeletons.append((n, canonical))
        else:
            out.append(SharedIndicator(kind, "keyed-hash", key.keyed_hash(kind.tag, canonical), n))
    skeletons.sort(key=lambda s: (-s[0], key.keyed_hash(PROMPT_SKELETON.tag, s[1])))
    for n, frame in skeletons[: rules.max_skeletons]:
        out.append(
            SharedIndicator(
                PROMPT_SKELETON, "keyed-hash", key.keyed_hash(PROMPT_SKELETON.tag, frame), n
            )
        )
        signature = minhash.encode(minhash.keyed_minhash(key, frame))
        out.append(SharedIndicator(PROMPT_SKELETON, "keyed-minhash", signature, n))
    out.sort(key=lambda i: (i.kind.tag, i.encoding, i.value))
    return out


def low_entropy_values(
    campaigns: Iterable[SharedCampaign], excluded: frozenset[str], min_accounts: int
) -> set[str]:
    """The flagged IP prefixes and e-mail domains of ``campaigns`` as ``kind/version:value``
    items: what ``intel psi`` compares with a partner."""
    items: set[str] = set()
    for campaign in campaigns:
        carriers: dict[tuple[Kind, str], set[str]] = defaultdict(set)
        for member in campaign.members:
            if member.account_id in excluded:
                continue
            for kind, canonical in member_values(member):
                if kind.entropy == "low" and (kind.tag, canonical) not in campaign.common:
                    carriers[(kind, canonical)].add(member.account_id)
        for (kind, canonical), accounts in carriers.items():
            if len(accounts) >= min_accounts and canonical not in PUBLIC_MAIL_DOMAINS:
                items.add(f"{kind.tag}:{canonical}")
    return items
