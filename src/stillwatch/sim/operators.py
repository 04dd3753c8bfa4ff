"""Operators and their account networks, with the tactics of THREATS.md as parameters.

Each operator keeps a number of account *slots* busy. An account in a slot lives until the
provider bans it (or the operator drops it) and the slot is refilled after a delay; accounts
are registered ahead in bursts and activated as needed. Infrastructure comes from the same
pools legitimate users use (home ISPs through residential proxies, hosting ranges, the
serverless cloud egress, carriers' CGNAT), payment is pooled or per account, and a hydra
carries resold legitimate traffic on the same accounts, keys and addresses.
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
    SCHEDULER,
    Cast,
    opaque_ids,
    pick,
)
from stillwatch.sim.network import COUNTRY_CODES, COUNTRY_SHARE, COUNTRY_TZ, AddressBook
from stillwatch.sim.population import CLOUD_COUNTRIES, CLOUD_EGRESS, TOOLS
from stillwatch.sim.prompts import org_name
from stillwatch.sim.registration import UNIVERSITIES, payment_ids, personal_email
from stillwatch.sim.scenario import Operator

PROXY_COUNTRIES = ("US", "US", "US", "GB", "DE", "CA", "SG", "JP", "KR", "TW", "IN", "BR", "NL")
_TIMING = {"synchronized": SCHEDULER, "flat": FLAT, "human": HUMAN}


@dataclass
class Enforcement:
    account: int
    ts: int
    action: str
    reason: str


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
    enforcements: list[Enforcement] = field(default_factory=list)

    def _infra(self, op: Operator, kind: str) -> tuple[int, int, int, float]:
        """Address range, pick mode and per-request rotation for one account."""
        provider = op["proxy_provider"] or f"{op['name']}-infra"
        size = int(400 * self.factor)
        if kind == "residential-proxy":
            lo, hi = self.book.residential_proxy_pool(f"{provider}-res", PROXY_COUNTRIES, size * 4)
        elif kind == "datacenter-proxy":
            lo, hi = self.book.pool(f"{provider}-dc", "hosting", PROXY_COUNTRIES, size)
        elif kind == "mobile-proxy":
            lo, hi = self.book.pool(f"{provider}-mob", "mobile", PROXY_COUNTRIES, size // 2)
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

    def build(self, op: Operator, op_index: int) -> None:
        r = self.rng
        operator_id = opaque_ids(r, 1, "op_", 6)[0]
        campaign_id = opaque_ids(r, 1, "cmp_", 6)[0]
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
            lo, hi, mode, _ = self._infra(op, kind)
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
                kind="campaign",
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
                content=CAMPAIGN,
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
                campaign_share=p_campaign,
                operator=op_index,
            )
            if banned:
                self.enforcements.append(
                    Enforcement(idx, end, "ban", "usage-policy:automated-abuse")
                )
            elif end < self.t_end and r.random() < 0.3:
                self.enforcements.append(
                    Enforcement(
                        idx,
                        end - int(r.uniform(1, 12) * HOUR_MS),
                        "challenge",
                        "verification-required",
                    )
                )
