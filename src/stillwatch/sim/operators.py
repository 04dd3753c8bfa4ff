"""Operators and their account networks, with the tactics of THREATS.md as parameters.

Each operator keeps a number of account *slots* busy. An account in a slot lives until the
provider bans it (or the operator drops it) and the slot is refilled after a delay; accounts
are registered ahead in bursts and activated as needed. Infrastructure comes from the same
pools legitimate users use (home ISPs through residential proxies, hosting networks chosen
per operator from those developers rent servers in, the serverless cloud egress, carriers'
CGNAT), payment is pooled or per account, and a hydra carries resold legitimate traffic on
the same accounts, keys and addresses. Abuse rings (``benign:abuse-ring``) are built the same
way with their own parameters: coordination is not what tells a campaign apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from stillwatch.sim import clients
from stillwatch.sim.cast import (
    CAMPAIGN,
    DAY_MS,
    FLAT,
    HOUR_MS,
    HUMAN,
    PER_REQUEST,
    PER_SESSION,
    RING,
    SCHEDULER,
    Cast,
    opaque_ids,
    pick,
)
from stillwatch.sim.enforcement import Enforcement, reason
from stillwatch.sim.network import COUNTRY_CODES, COUNTRY_SHARE, COUNTRY_TZ, AddressBook
from stillwatch.sim.population import CLOUD_COUNTRIES, CLOUD_EGRESS, TOOLS
from stillwatch.sim.prompts import org_name
from stillwatch.sim.registration import UNIVERSITIES, payment_ids, personal_email
from stillwatch.sim.scenario import Operator

PROXY_COUNTRIES = ("US", "US", "US", "GB", "DE", "CA", "SG", "JP", "KR", "TW", "IN", "BR", "NL")
_TIMING = {"synchronized": SCHEDULER, "flat": FLAT, "human": HUMAN}


@dataclass
class OperatorCast:
    """Adds one operator's accounts (all slots, all replacements) to the cast."""

    rng: np.random.Generator
    cast: Cast
    book: AddressBook
    t0: int
    t_end: int
    release_ms: int | None
    factor: float
    role: str = "campaign"  # or "ring": a benign:abuse-ring, content RING, no labels
    enforcements: list[Enforcement] = field(default_factory=list)
    _hosting: dict[str, list[int]] = field(default_factory=dict)

    def _hosting_asns(self, provider: str) -> list[int]:
        """The one to three hosting networks a provider rents from, drawn per seed from the
        same networks legitimate developers rent servers in."""
        if provider not in self._hosting:
            asns = self.book.asns_of("hosting")
            k = int(self.rng.integers(1, 4))
            self._hosting[provider] = sorted(
                int(a) for a in self.rng.choice(asns, size=min(k, len(asns)), replace=False)
            )
        return self._hosting[provider]

    def _infra(self, op: Operator, kind: str, slot: int) -> tuple[int, int, int, float]:
        """Address range, pick mode and per-request rotation for one account."""
        provider = op["proxy_provider"] or f"{op['name']}-{slot}-infra"
        size = int(400 * self.factor)
        r = self.rng
        if kind == "residential-proxy":
            lo, hi = self.book.pool(
                f"{provider}-res", "residential", PROXY_COUNTRIES, size * 4, rng=r
            )
        elif kind == "datacenter-proxy":
            lo, hi = self.book.pool(
                f"{provider}-dc",
                "hosting",
                PROXY_COUNTRIES,
                size,
                rng=r,
                asns=self._hosting_asns(provider),
            )
        elif kind == "mobile-proxy":
            lo, hi = self.book.pool(f"{provider}-mob", "mobile", PROXY_COUNTRIES, size // 2, rng=r)
        else:
            lo, hi = self.book.pool(CLOUD_EGRESS, "cloud", CLOUD_COUNTRIES, int(3000 * self.factor))
        rotation = op["rotation"]
        if rotation == "request":
            return lo, hi, PER_REQUEST, 0.0
        if rotation == "sticky":
            a = int(self.rng.integers(lo, hi))
            return a, a + 1, PER_SESSION, 0.0
        # per-session rotation within a small sticky subset of the pool
        n = int(self.rng.integers(3, 20))
        a = int(self.rng.integers(lo, max(lo + 1, hi - n)))
        return a, min(hi, a + n), PER_SESSION, 0.0

    def _slot_lifetimes(self, op: Operator, start: int) -> list[tuple[int, int, bool]]:
        """(start, end, banned) for the chain of accounts that fill one slot."""
        r = self.rng
        out = []
        t = start
        mean = float(op["lifetime_days"]) * DAY_MS
        while t < self.t_end:
            life = max(0.3 * DAY_MS, r.exponential(mean))
            end = int(t + life)
            banned = end < self.t_end and r.random() < float(op["ban_share"])
            out.append((t, min(end, self.t_end), banned))
            hours = (
                float(op["replace_hours"]) if not op["hydra"] else float(op["replace_hours"]) * 0.2
            )
            t = end + int(r.exponential(max(hours, 0.01)) * HOUR_MS)
        return out

    def build(self, op: Operator, op_index: int, group: int | None = None) -> None:
        """Add every account of operator (or ring) ``op_index``; ``group`` names the scheduler
        that drives them (default: the index)."""
        r = self.rng
        ring = self.role == "ring"
        operator_id = None if ring else opaque_ids(r, 1, "op_", 6)[0]
        campaign_id = None if ring else opaque_ids(r, 1, "cmp_", 6)[0]
        population = "ring" if ring else "campaign"
        n_slots = max(1, round(float(op["accounts"]) * self.factor))
        start0 = self.t0 + int(float(op["start_day"]) * DAY_MS)
        spans: list[tuple[int, int, bool]] = []
        for _ in range(n_slots):
            spans += self._slot_lifetimes(op, start0 + int(r.uniform(0, 1.5) * DAY_MS))
        spans.sort()
        cards = payment_ids(r, int(op["payment_pool"])) if op["payment"] == "pooled" else []
        infra = op["infrastructure"]
        kinds, weights = list(infra), np.array(list(infra.values()))
        paths = op["signup_paths"]
        families = tuple(op["client_families"])
        op_clients = clients.draw(r, 3, families)  # an operator's scripts use a few clients
        burst = max(1, int(op["burst_size"]))
        burst_at = 0
        caps = op["capabilities"]
        agentic = float(caps.get("agentic", 0.0)) + float(caps.get("computer-use", 0.0))
        for i, (start, end, banned) in enumerate(spans):
            if i % burst == 0:  # the next burst is registered ahead of need
                burst_at = int(start - r.uniform(2, 96) * HOUR_MS)
            if r.random() < float(op["aged_share"]):
                created = int(start - r.uniform(60, 700) * DAY_MS)
            else:
                created = min(start - 60_000, burst_at + int(r.uniform(0, 40) * 60_000))
            country = str(pick(r, COUNTRY_CODES, COUNTRY_SHARE))
            kind = str(pick(r, kinds, weights / weights.sum()))
            lo, hi, mode, _ = self._infra(op, kind, op_index)
            path = str(pick(r, list(paths), list(paths.values())))
            if path == "education" and r.random() < 0.6:
                email = UNIVERSITIES[int(r.integers(0, len(UNIVERSITIES)))]
            else:
                email = personal_email(r, country, r.random() < float(op["zh_share"]))
            if op["payment"] == "pooled":
                card: str | None = cards[int(r.integers(0, len(cards)))]
            else:
                card = self.cast.new_id("pm_", 12)
            if path in ("education", "research-program") and r.random() < 0.6:
                card = None
            rate = float(op["rate"]) * float(r.lognormal(0.0, float(op["rate_spread"])))
            turns = max(1.0, float(op["turns"]))
            # resold sessions are real conversations (~3.5 turns): pick sessions so that the
            # *exchange* share of resold traffic is the one asked for
            resold = float(op["resold_share"])
            p_campaign = (1 - resold) * 3.5 / ((1 - resold) * 3.5 + resold * turns)
            keys = self.cast.add_keys(self.cast.new_ids("key_", int(pick(r, [1, 1, 2])), 8))
            pivot = float(op["release_pivot"])
            hydra = bool(op["hydra"])
            idx = self.cast.add(
                account_id=self.cast.new_id("acct_"),
                created_ms=created,
                email_domain=email,
                payment_fingerprint=card,
                signup_ip=self.book.ips[int(r.integers(lo, hi))],
                country=country,
                signup_path=path,
                org_name=org_name(r) if r.random() < 0.3 else None,
                verified=bool(r.random() < float(op["verified_share"])),
                kind="benign:abuse-ring" if ring else "campaign",
                operator_id=operator_id,
                campaign_id=campaign_id,
                start_ms=start,
                end_ms=end,
                # the rate counts campaign exchanges; a hydra's resold traffic comes on top
                sessions_per_day=rate / turns / max(0.05, p_campaign),
                active_p=1.0 if op["timing"] != "human" else float(r.uniform(0.75, 0.95)),
                weekend=1.0 if op["timing"] != "human" else float(r.uniform(0.5, 0.9)),
                rhythm=_TIMING.get(str(op["timing"]), SCHEDULER),
                tz=COUNTRY_TZ[country],
                turns=turns,
                gap_s=float(r.uniform(20, 120)),
                ip_lo=lo,
                ip_hi=hi,
                ip_mode=mode,
                client=int(op_clients[int(r.integers(0, len(op_clients)))]),
                content=RING if ring else CAMPAIGN,
                thinking_p=float(op["thinking"]),
                max_tokens=int(pick(r, np.asarray(op["max_tokens"]))),
                temperature=float(pick(r, [-1.0, 0.7, 1.0])),
                tools=int(pick(r, TOOLS)) if r.random() < agentic + 0.1 else 0,
                model_mix=1,
                adopt_delay=float(r.uniform(0.05, 0.9)) if pivot > 0 else np.inf,
                adopt_share=pivot,
                end_users=int(r.integers(200, 3000))
                if hydra and float(op["resold_share"]) > 0
                else 0,
                key_lo=keys[0],
                key_hi=keys[1],
                campaign_share=0.0 if ring else p_campaign,
                operator=op_index,
                group=op_index if group is None else group,
            )
            self._enforce(idx, start, end, banned, rate, population)

    def _enforce(
        self, idx: int, start: int, end: int, banned: bool, rate: float, population: str
    ) -> None:
        """A retired account was banned or challenged on its way out; busy ones get throttled."""
        r = self.rng
        if banned:
            self.enforcements.append(Enforcement(idx, end, "ban", reason(r, "ban", population)))
        elif end < self.t_end and r.random() < 0.3:
            ts = max(start, end - int(r.uniform(1, 12) * HOUR_MS))
            self.enforcements.append(
                Enforcement(idx, ts, "challenge", reason(r, "challenge", population))
            )
        if end - start > 4 * HOUR_MS and r.random() < 0.08:  # suspended, sometimes let back
            ts = int(r.uniform(start, end - 2 * HOUR_MS))
            self.enforcements.append(Enforcement(idx, ts, "suspend", reason(r, "suspend", "*")))
            if r.random() < 0.5:
                back = ts + int(r.uniform(1, 2) * HOUR_MS)
                self.enforcements.append(
                    Enforcement(idx, back, "reinstate", reason(r, "reinstate", "*"))
                )
        if end - start > HOUR_MS and r.random() < min(0.5, rate / 80):
            ts = int(r.uniform(start, end))
            self.enforcements.append(
                Enforcement(idx, ts, "throttle", reason(r, "throttle", population))
            )
