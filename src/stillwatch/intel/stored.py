"""Our campaigns as ``intel`` shares them, read from the store and the casebook.

Fills :class:`~stillwatch.intel.shared.SharedCampaign` from the campaign tables of one scan
(the latest finished one by default; ``docs/store.md``): ``campaigns`` for the facts,
``campaign_members`` for the accounts, and, for each member, the raw values the indicator
code turns into keyed hashes or private-set items:

- addresses, TLS fingerprints and prompts of the member's **campaign exchanges**
  (``campaign_exchanges``), not of all its exchanges: a hydra account resells real customers'
  traffic, and their addresses and prompts are not the operator's. A campaign with no
  classified exchanges (a candidate an analyst confirmed) falls back to all its members'
  exchanges;
- the e-mail domain the account registered with (``accounts``);
- the kind of network of each address, from its ASN and the public ASN reference
  (``features/reference/asn_kinds.csv``): a raw prefix may only ever be shared for cloud and
  hosting networks.

A value (prefix, TLS fingerprint, mail domain, prompt frame) is shared only when at least
half of the accounts holding it anywhere in our traffic are the campaign's members
(``MIN_CAMPAIGN_SHARE``): the others are recorded in ``SharedCampaign.common`` and never
leave. This keeps out a popular client's fingerprint, a carrier's range, and the frames of
ordinary users' prompts that a hydra's resold traffic carries into the campaign. It costs one
skeleton per distinct prompt of the store, as ``intel match`` does.

What people decided (the casebook) is honoured:

- campaigns whose status is ``dismissed``, or whose latest analyst verdict is ``dismissed``,
  are not shared; candidates below the scan's threshold are not either, unless an analyst
  confirmed them;
- a campaign whose latest verdict is ``confirmed`` is marked (``confirmed``; the bundle labels
  it ``analyst-confirmed``) and its confidence is 100 (STIX 2.1's scale puts "confirmed by
  other sources" at 90–100); otherwise the confidence is the campaign score × 100;
- accounts allowlisted now or whose latest verdict is ``dismissed`` are excluded (they
  contribute no value), and addresses inside an allowlisted ``ip`` entry are dropped.

Payment fingerprints, ASNs and user agents are not read: they are not indicators
(``docs/sharing.md`` says why).
"""

from __future__ import annotations

import ipaddress
import json
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from typing import Any

from stillwatch.engine.casebook import Casebook
from stillwatch.engine.store import Store
from stillwatch.errors import StillwatchError
from stillwatch.features.reference import asn_kind
from stillwatch.intel.canonical import (
    EMAIL_DOMAIN,
    IP_PREFIX,
    PROMPT_SKELETON,
    email_domain,
    ip_prefix,
    skeleton,
    tls_fingerprint,
)
from stillwatch.intel.shared import Estimate, Member, SharedCampaign

# ASN kinds of the public reference → the network kinds of ``shared.NETWORK_KINDS``.
NETWORK_OF_ASN_KIND = {
    "cloud": "datacenter",
    "hosting": "hosting",
    "mobile": "mobile",
    "isp": "residential",
    "education": "education",
    "unknown": "unknown",
}
# When one address was seen in networks of several kinds, the least shareable one counts.
_SHAREABILITY = (
    "unknown",
    "residential",
    "mobile",
    "education",
    "business",
    "hosting",
    "datacenter",
)
# Capabilities held by at least this share of the members are named as targeted.
MIN_CAPABILITY_SHARE = 0.1
CONFIRMED_CONFIDENCE = 100
# A value is the campaign's own, and may be shared, only when at least this share of the
# accounts holding it in our traffic are its members: a popular client's fingerprint, a
# carrier's range or a common prompt frame held by many of our users indicates nothing, and a
# partner matching it would flag its own ordinary users.
MIN_CAMPAIGN_SHARE = 0.5


@dataclass(frozen=True)
class Decisions:
    """What the casebook says that sharing honours."""

    excluded_accounts: frozenset[str] = frozenset()
    allowlisted_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    campaign_verdicts: dict[str, str] = field(default_factory=dict)

    def allowlisted_address(self, address: str) -> bool:
        if not self.allowlisted_networks:
            return False
        try:
            net = ipaddress.ip_network(address.strip(), strict=False)
        except ValueError:
            return False
        return any(
            net.version == a.version and net.subnet_of(a)  # type: ignore[arg-type]
            for a in self.allowlisted_networks
        )


def decisions_from(book: Casebook | None) -> Decisions:
    """Read the casebook (None: nothing decided yet)."""
    if book is None:
        return Decisions()
    excluded: set[str] = set()
    networks = []
    for entry in book.allowlisted():
        if entry.entity_kind == "account":
            excluded.add(entry.account_id or entry.entity)
        elif entry.entity_kind == "api_key" and entry.account_id:
            excluded.add(entry.account_id)
        elif entry.entity_kind == "ip":
            try:
                networks.append(ipaddress.ip_network(entry.entity.strip(), strict=False))
            except ValueError:
                continue  # the dashboard validates entries; an unreadable one names nothing
    excluded |= {a for a, v in book.account_verdicts().items() if v.verdict == "dismissed"}
    verdicts = {
        str(r[0]): str(r[1])
        for r in book.rows(
            """SELECT entity_id, verdict FROM analyst_verdicts WHERE entity_kind = 'campaign'
               ORDER BY verdict_id"""
        )
    }
    return Decisions(frozenset(excluded), tuple(networks), verdicts)


@dataclass(frozen=True)
class StoredCampaigns:
    """What one scan gives to share, and what it holds back (with why)."""

    scan_id: str
    campaigns: list[SharedCampaign]
    dismissed: list[str]
    excluded_accounts: frozenset[str]


_COLUMNS = (
    "campaign_id", "operator_id", "score", "status", "accounts", "accounts_low",
    "accounts_high", "exchanges", "exchanges_low", "exchanges_high", "member_exchanges",
    "first_seen", "last_seen", "capabilities",
)  # fmt: skip


def _moment(day: date | datetime | None, fallback: datetime) -> datetime:
    if day is None:
        return fallback
    if isinstance(day, datetime):
        return day.replace(tzinfo=UTC) if day.tzinfo is None else day.astimezone(UTC)
    return datetime.combine(day, time(), tzinfo=UTC)


def _estimate(value: Any, low: Any, high: Any, fallback: int) -> Estimate:
    if value is None:
        return Estimate(fallback, 0, fallback)
    value = int(value)
    low = value if low is None else min(int(low), value)
    high = value if high is None else max(int(high), value)
    return Estimate(value, max(low, 0), high)


def _capabilities(raw: Any) -> tuple[str, ...]:
    shares = json.loads(raw) if isinstance(raw, str) else (raw or {})
    kept = [
        (float(s), c)
        for c, s in shares.items()
        if s is not None and float(s) >= MIN_CAPABILITY_SHARE
    ]
    return tuple(c for _, c in sorted(kept, key=lambda x: (-x[0], x[1])))


def _objective(capabilities: tuple[str, ...]) -> str:
    if not capabilities:
        return "distillation: harvesting the model's answers"
    return "distillation: harvesting the model's answers on " + ", ".join(capabilities)


def _least_shareable(kinds: set[str]) -> str:
    return min(kinds, key=lambda k: _SHAREABILITY.index(k) if k in _SHAREABILITY else 0)


def read_campaigns(store: Store, scan_id: str, decisions: Decisions) -> StoredCampaigns:
    """The campaigns of ``scan_id`` to share, filled with their members' values."""
    if not store.sql("SELECT 1 FROM scans WHERE scan_id = ? AND status = 'done'", [scan_id]):
        raise StillwatchError(f"{store.path}: no finished scan {scan_id!r}")
    rows = [
        dict(zip(_COLUMNS, r, strict=True))
        for r in store.sql(
            f"SELECT {', '.join(_COLUMNS)} FROM campaigns WHERE scan_id = ? ORDER BY campaign_id",
            [scan_id],
        )
    ]
    chosen, dismissed = [], []
    for r in rows:
        verdict = decisions.campaign_verdicts.get(r["campaign_id"])
        if verdict == "dismissed" or (verdict is None and r["status"] == "dismissed"):
            dismissed.append(r["campaign_id"])
        elif verdict == "confirmed" or r["status"] == "reported":
            chosen.append(r)
    frames: dict[str, str | None] = {}
    holders = _holders(store, frames) if chosen else {}
    campaigns = []
    for r in chosen:
        confirmed = decisions.campaign_verdicts.get(r["campaign_id"]) == "confirmed"
        campaign = _shared(store, scan_id, r, confirmed, decisions)
        campaigns.append(replace(campaign, common=_common(campaign, holders, frames)))
    return StoredCampaigns(scan_id, campaigns, dismissed, decisions.excluded_accounts)


def _values(member: Member, frames: dict[str, str | None]) -> set[tuple[str, str]]:
    """(kind tag, canonical value) of a member's prefixes, TLS fingerprints, mail domain and
    prompt frames; ``frames`` caches skeletons by prompt."""
    values = {(IP_PREFIX.tag, p) for a in member.ips if (p := ip_prefix(a))}
    values |= {(f[0].tag, f[1]) for t in member.tls_fingerprints if (f := tls_fingerprint(t))}
    if member.email_domain and (domain := email_domain(member.email_domain)):
        values.add((EMAIL_DOMAIN.tag, domain))
    for prompt in member.prompts:
        if prompt not in frames:
            frames[prompt] = skeleton(prompt)
        if frame := frames[prompt]:
            values.add((PROMPT_SKELETON.tag, frame))
    return values


def _holders(store: Store, frames: dict[str, str | None]) -> dict[tuple[str, str], int]:
    """How many accounts of our whole traffic hold each prefix, TLS fingerprint, mail domain
    and prompt frame. Passes over the distinct (address, account) and (account, prompt)
    pairs: memory grows with them."""
    sets: dict[tuple[str, str], set[str]] = defaultdict(set)
    for ip, account in store.sql(
        "SELECT DISTINCT ip, account_id FROM exchanges WHERE ip IS NOT NULL"
    ):
        if prefix := ip_prefix(ip):
            sets[(IP_PREFIX.tag, prefix)].add(account)
    for account, prompt in store.sql(
        "SELECT DISTINCT account_id, prompt FROM exchanges WHERE prompt IS NOT NULL"
    ):
        if prompt not in frames:
            frames[prompt] = skeleton(prompt)
        if frame := frames[prompt]:
            sets[(PROMPT_SKELETON.tag, frame)].add(account)
    counts = {k: len(v) for k, v in sets.items()}
    del sets
    for fingerprint, n in store.sql(
        """SELECT tls_fingerprint, count(DISTINCT account_id) FROM exchanges
           WHERE tls_fingerprint IS NOT NULL GROUP BY ALL"""
    ):
        if found := tls_fingerprint(fingerprint):
            key = (found[0].tag, found[1])
            counts[key] = counts.get(key, 0) + int(n)
    for domain, n in store.sql(
        "SELECT email_domain, count(*) FROM accounts WHERE email_domain IS NOT NULL GROUP BY ALL"
    ):
        if canonical := email_domain(domain):
            key = (EMAIL_DOMAIN.tag, canonical)
            counts[key] = counts.get(key, 0) + int(n)
    return counts


def _common(
    campaign: SharedCampaign,
    holders: dict[tuple[str, str], int],
    frames: dict[str, str | None],
) -> frozenset[tuple[str, str]]:
    """The values of ``campaign`` that are not its own: fewer than ``MIN_CAMPAIGN_SHARE`` of
    the accounts holding them in our traffic are its members."""
    inside: dict[tuple[str, str], int] = defaultdict(int)
    for member in campaign.members:
        for value in _values(member, frames):
            inside[value] += 1
    return frozenset(v for v, n in inside.items() if n < MIN_CAMPAIGN_SHARE * holders.get(v, n))


def _shared(
    store: Store, scan_id: str, r: dict[str, Any], confirmed: bool, decisions: Decisions
) -> SharedCampaign:
    cid = r["campaign_id"]
    classified = bool(
        store.sql(
            "SELECT 1 FROM campaign_exchanges WHERE scan_id = ? AND campaign_id = ? LIMIT 1",
            [scan_id, cid],
        )
    )
    # The exchanges whose values the campaign may share: its classified campaign exchanges,
    # else (not sized) every exchange of its members.
    if classified:
        source = """SELECT e.* FROM campaign_exchanges c JOIN exchanges e USING (event_id)
                    WHERE c.scan_id = ? AND c.campaign_id = ?"""
    else:
        source = """SELECT e.* FROM campaign_members m JOIN exchanges e USING (account_id)
                    WHERE m.scan_id = ? AND m.campaign_id = ?"""
    ips: dict[str, set[str]] = defaultdict(set)
    tls: dict[str, set[str]] = defaultdict(set)
    prompts: dict[str, set[str]] = defaultdict(set)
    address_kinds: dict[str, set[str]] = defaultdict(set)
    first = last = None
    for account, ip, asn, fingerprint, prompt, ts_min, ts_max in store.sql(
        f"""SELECT account_id, ip, asn, tls_fingerprint, prompt, min(ts), max(ts)
            FROM ({source}) GROUP BY ALL""",
        [scan_id, cid],
    ):
        first = ts_min if first is None else min(first, ts_min)
        last = ts_max if last is None else max(last, ts_max)
        if ip is not None and not decisions.allowlisted_address(ip):
            ips[account].add(ip)
            address_kinds[ip].add(NETWORK_OF_ASN_KIND.get(asn_kind(asn), "unknown"))
        if fingerprint is not None:
            tls[account].add(fingerprint)
        if prompt is not None:
            prompts[account].add(prompt)
    members_domains = store.sql(
        """SELECT m.account_id, a.email_domain FROM campaign_members m
           LEFT JOIN accounts a USING (account_id)
           WHERE m.scan_id = ? AND m.campaign_id = ? ORDER BY m.account_id""",
        [scan_id, cid],
    )
    members = tuple(
        Member(
            account_id=account,
            ips=tuple(sorted(ips[account])),
            email_domain=domain,
            tls_fingerprints=tuple(sorted(tls[account])),
            prompts=tuple(sorted(prompts[account])),
        )
        for account, domain in members_domains
    )
    now = datetime.now(UTC)
    first_seen = _moment(r["first_seen"], _moment(first, now))
    last_seen = max(_moment(r["last_seen"], _moment(last, now)), first_seen)
    capabilities = _capabilities(r["capabilities"])
    return SharedCampaign(
        campaign_id=cid,
        operator_id=r["operator_id"],
        first_seen=first_seen,
        last_seen=last_seen,
        objective=_objective(capabilities),
        capabilities=capabilities,
        accounts=_estimate(r["accounts"], r["accounts_low"], r["accounts_high"], len(members)),
        exchanges=_estimate(
            r["exchanges"], r["exchanges_low"], r["exchanges_high"], int(r["member_exchanges"] or 0)
        ),
        confidence=CONFIRMED_CONFIDENCE if confirmed else round(100 * float(r["score"])),
        members=members,
        networks={a: _least_shareable(k) for a, k in address_kinds.items()},
        confirmed=confirmed,
    )


def decide_file_campaigns(
    campaigns: list[SharedCampaign], decisions: Decisions
) -> tuple[list[SharedCampaign], list[str]]:
    """Campaigns read from a file, with the casebook's campaign verdicts applied: dismissed
    ones left out (returned by id), confirmed ones marked."""
    kept, dismissed = [], []
    for c in campaigns:
        verdict = decisions.campaign_verdicts.get(c.campaign_id)
        if verdict == "dismissed":
            dismissed.append(c.campaign_id)
        elif verdict == "confirmed":
            kept.append(replace(c, confirmed=True, confidence=CONFIRMED_CONFIDENCE))
        else:
            kept.append(c)
    return kept, dismissed
