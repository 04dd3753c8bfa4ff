"""Look-alike organizations: many accounts that act together and are not campaigns.

- ``coding-fleet``: many accounts of one org, one card, one egress range, one system prompt,
  agent sessions around the clock;
- ``eval-harness``: bursts of templated benchmark prompts that say "think step by step",
  retried at several temperatures, the same frames across labs;
- ``app``: one system prompt and template, thousands of end users, server or serverless egress;
- ``router``: resellers forwarding many end users' traffic through few accounts;
- ``synthetic-data-vendor``: templated generation requests around the clock, shared card,
  half of them run by a scheduler that makes the vendor's accounts busy in the same minutes.

Each organization speaks in one voice (``voices``) across its accounts: a harness's custom
reasoning and grading frames, a fleet's agent framing, a vendor's rubrics recur across the
organization's accounts as an operator's frames do.
"""

from __future__ import annotations

import numpy as np

from stillwatch.sim import clients
from stillwatch.sim.cast import (
    AGENT,
    APP,
    BURST,
    DAY_MS,
    EVAL,
    FLAT,
    HUMAN,
    PER_REQUEST,
    PER_SESSION,
    ROUTER,
    SCHEDULER,
    VENDOR,
    WORKDAY,
    pick,
)
from stillwatch.sim.network import COUNTRY_TZ, COUNTRY_ZH
from stillwatch.sim.population import (
    CLOUD_COUNTRIES,
    CLOUD_EGRESS,
    MAX_TOKENS,
    MAX_TOKENS_P,
    TEMPERATURES,
    TEMPERATURES_P,
    TOOLS,
    Population,
)
from stillwatch.sim.prompts import app_design, org_name
from stillwatch.sim.registration import UNIVERSITIES, company_domain, personal_email
from stillwatch.sim.voices import family_bits


def _org_voice(pop: Population, shares: dict[str, float]) -> int:
    """One voice for a whole organization (at least one family)."""
    bits = 0
    while not bits:
        bits = int(family_bits(pop.rng, 1, shares)[0])
    return pop.cast.add_voice(bits)


VENDOR_GROUPS = 2000  # scheduler groups of vendors start here (operators' and rings' below)


class Organizations(Population):
    """The legitimate population with its look-alike organizations."""

    vendor_groups: int = 0

    def _org(self, kind: str, n_accounts: int, path: str) -> dict:
        """One organization's shared registration: name, domain, card, egress, system prompt."""
        r = self.rng
        org = org_name(r)
        country = str(pick(r, ["US", "US", "GB", "DE", "SG", "JP", "CA", "NL"]))
        created_org = int(self.t0 - r.uniform(60, 800) * DAY_MS)
        lo, hi = self.book.fixed_block(
            "cloud",
            country if self.book.asns_of("cloud", country) else "US",
            int(r.integers(2, 12)),
        )
        return {
            "org": org,
            "country": country,
            "created": created_org,
            "card": self.cast.new_id("pm_", 12),
            "domain": company_domain(org),
            "ip": (lo, hi),
            "path": path,
            "kind": kind,
        }

    def _org_record(self, org: dict, spread_days: float) -> dict:
        r = self.rng
        created = org["created"] + int(r.uniform(0, spread_days) * DAY_MS)
        created = min(created, self.t_end - DAY_MS)
        start, end = self._window(created)
        return {
            "account_id": self.cast.new_id("acct_"),
            "created_ms": created,
            "email_domain": org["domain"],
            "payment_fingerprint": org["card"] if r.random() < 0.9 else self.cast.new_id("pm_", 12),
            "signup_ip": self.book.ips[org["ip"][0]],
            "country": org["country"],
            "signup_path": org["path"],
            "org_name": org["org"],
            "verified": bool(r.random() < 0.85),
            "kind": f"benign:{org['kind']}",
            "start_ms": start,
            "end_ms": end,
        }

    def coding_fleets(self, n_orgs: int) -> None:
        r = self.rng
        for _ in range(n_orgs):
            org = self._org("coding-fleet", 0, "enterprise")
            system = self.cast.add_system(
                f"You are {org['org']}'s internal coding agent. Follow the repository's "
                f"CONTRIBUTING.md. Use the tools provided. Never push to main."
            )
            client = int(clients.draw(r, 1, ("agent-cli", "python-sdk"))[0])
            voice = _org_voice(self, {"agent": 0.8, "reasoning": 0.4, "task": 0.3})
            voice_p = float(r.uniform(0.3, 0.9))
            for _ in range(int(np.clip(r.lognormal(np.log(8), 0.7), 3, 60))):
                rec = self._org_record(org, 400)
                delay, share = self._adoption(0.3, 0.5)
                k = self._keys(int(r.integers(3, 20)))
                self.cast.add(
                    **rec,
                    tz=COUNTRY_TZ[org["country"]],
                    sessions_per_day=float(r.lognormal(np.log(4.0), 0.5)),
                    active_p=float(r.uniform(0.8, 1.0)),
                    weekend=float(r.uniform(0.3, 0.9)),
                    rhythm=WORKDAY,
                    content=AGENT,
                    turns=float(r.uniform(3, 9)),
                    gap_s=float(r.uniform(8, 40)),
                    ip_lo=org["ip"][0],
                    ip_hi=org["ip"][1],
                    client=client,
                    thinking_p=float(r.uniform(0.5, 1.0)),
                    max_tokens=int(pick(r, [8192, 16000, 32000])),
                    tools=int(pick(r, TOOLS[4:])),
                    model_mix=1,
                    adopt_delay=delay,
                    adopt_share=share,
                    system=system,
                    voice=voice,
                    voice_p=voice_p,
                    key_lo=k[0],
                    key_hi=k[1],
                )

    def eval_harnesses(self, n: int) -> None:
        r = self.rng
        made = 0
        while made < n:
            org = self._org(
                "eval-harness",
                0,
                str(pick(r, ["research-program", "self-serve", "enterprise", "education"])),
            )
            if r.random() < 0.4:
                org["domain"] = UNIVERSITIES[int(r.integers(0, len(UNIVERSITIES)))]
            frame = int(r.integers(0, 4))
            # a lab's own harness frames its items; a public harness's template is fixed
            custom = r.random() < 0.6
            voice = (
                _org_voice(self, {"reasoning": 0.7, "grader": 0.5, "task": 0.4}) if custom else -1
            )
            voice_p = float(r.uniform(0.5, 1.0))
            for _ in range(int(r.integers(1, 5))):
                rec = self._org_record(org, 300)
                rec["verified"] = bool(r.random() < 0.5)
                k = self._keys(int(r.integers(1, 4)))
                lo, hi = org["ip"]
                mode = PER_SESSION
                if r.random() < 0.3:
                    lo, hi = self.book.pool(
                        CLOUD_EGRESS, "cloud", CLOUD_COUNTRIES, int(3000 * self.factor)
                    )
                    mode = PER_REQUEST
                self.cast.add(
                    **rec,
                    tz=COUNTRY_TZ[org["country"]],
                    sessions_per_day=float(r.lognormal(np.log(25), 0.6)),
                    active_p=float(r.uniform(0.1, 0.45)),
                    weekend=float(r.uniform(0.3, 1.0)),
                    rhythm=BURST,
                    content=EVAL,
                    frame=frame,
                    ip_lo=lo,
                    ip_hi=hi,
                    ip_mode=mode,
                    client=int(clients.draw(r, 1, ("python-sdk", "framework", "raw-http"))[0]),
                    thinking_p=float(pick(r, [0.0, 0.5, 1.0])),
                    max_tokens=int(pick(r, [1024, 2048, 4096, 8192, 16000])),
                    temperature=0.0,
                    model_mix=int(pick(r, [0, 1, 2])),
                    adopt_delay=float(r.uniform(0.02, 1.0))
                    if self.release_ms and r.random() < 0.6
                    else np.inf,
                    adopt_share=0.5,
                    repeats=int(r.integers(1, 6)),
                    voice=voice,
                    voice_p=voice_p,
                    key_lo=k[0],
                    key_hi=k[1],
                )
                made += 1

    def apps(self, n: int) -> None:
        r = self.rng
        for _ in range(n):
            system_text, template, org = app_design(r)
            self.cast.templates.append(template)
            country = str(pick(r, ["US", "US", "GB", "DE", "IN", "SG", "JP", "KR", "TW", "BR"]))
            created = int(self.t0 - r.uniform(10, 700) * DAY_MS)
            start, end = self._window(created)
            lo, hi, mode = self._server_egress(country)
            k = self._keys(int(r.integers(1, 4)))
            writes_zh = r.random() < COUNTRY_ZH[country]
            self.cast.add(
                account_id=self.cast.new_id("acct_"),
                created_ms=created,
                email_domain=company_domain(org)
                if r.random() < 0.6
                else personal_email(r, country, writes_zh),
                payment_fingerprint=self.cast.new_id("pm_", 12),
                signup_ip=self.book.ips[lo],
                country=country,
                signup_path=str(pick(r, ["self-serve", "startup-program"], [0.7, 0.3])),
                org_name=org,
                verified=bool(r.random() < 0.6),
                kind="benign:app",
                start_ms=start,
                end_ms=end,
                tz=self._tz(country),
                sessions_per_day=float(r.lognormal(np.log(6), 0.9)),
                active_p=float(r.uniform(0.7, 1.0)),
                weekend=float(r.uniform(0.6, 1.1)),
                rhythm=HUMAN,
                content=APP,
                frame=len(self.cast.templates) - 1,
                turns=float(pick(r, [1.0, 1.0, 2.5])),
                ip_lo=lo,
                ip_hi=hi,
                ip_mode=mode,
                client=int(clients.draw(r, 1, ("python-sdk", "node-sdk", "framework"))[0]),
                thinking_p=float(pick(r, [0.0, 0.0, 0.3, 1.0])),
                max_tokens=int(pick(r, MAX_TOKENS, MAX_TOKENS_P)),
                temperature=float(pick(r, TEMPERATURES, TEMPERATURES_P)),
                zh_p=0.9 if writes_zh else 0.0,
                model_mix=int(pick(r, [0, 2])),
                system=self.cast.add_system(system_text),
                end_users=int(r.lognormal(np.log(800), 1.0)) + 20,
                key_lo=k[0],
                key_hi=k[1],
            )

    def routers(self, n: int) -> None:
        r = self.rng
        for _ in range(n):
            org = self._org("router", 0, "reseller")
            lo, hi = self.book.pool(CLOUD_EGRESS, "cloud", CLOUD_COUNTRIES, int(3000 * self.factor))
            rec = self._org_record(org, 200)
            k = self._keys(int(r.integers(2, 10)))
            self.cast.add(
                **rec,
                tz=0.0,
                sessions_per_day=float(r.uniform(15, 40)),
                active_p=1.0,
                rhythm=FLAT,
                content=ROUTER,
                ip_lo=lo,
                ip_hi=hi,
                ip_mode=PER_REQUEST,
                client=int(clients.draw(r, 1, ("raw-http", "framework", "node-sdk"))[0]),
                thinking_p=0.3,
                max_tokens=int(pick(r, [4096, 8192, 16000])),
                zh_p=float(r.uniform(0.05, 0.3)),
                end_users=int(r.integers(2000, 20000)),
                key_lo=k[0],
                key_hi=k[1],
            )

    def vendors(self, n_vendors: int) -> None:
        r = self.rng
        for _ in range(n_vendors):
            org = self._org(
                "synthetic-data-vendor", 0, str(pick(r, ["self-serve", "startup-program"]))
            )
            frame = int(r.integers(0, 4))
            voice = _org_voice(self, {"grader": 0.6, "task": 0.5, "reasoning": 0.5})
            voice_p = float(r.uniform(0.3, 0.8))
            scheduled = r.random() < 0.5
            self.vendor_groups += 1
            for _ in range(int(r.integers(3, 8))):
                rec = self._org_record(org, 200)
                k = self._keys(int(r.integers(1, 4)))
                self.cast.add(
                    **rec,
                    tz=COUNTRY_TZ[org["country"]],
                    sessions_per_day=float(r.lognormal(np.log(22), 0.5)),
                    active_p=float(r.uniform(0.6, 1.0)),
                    rhythm=SCHEDULER if scheduled else FLAT,
                    group=VENDOR_GROUPS + self.vendor_groups,
                    content=VENDOR,
                    frame=frame,
                    ip_lo=org["ip"][0],
                    ip_hi=org["ip"][1],
                    client=int(clients.draw(r, 1, ("python-sdk", "framework"))[0]),
                    thinking_p=float(r.uniform(0.2, 0.8)),
                    max_tokens=int(pick(r, [4096, 8192, 16000])),
                    temperature=float(pick(r, [0.7, 0.9, 1.0])),
                    voice=voice,
                    voice_p=voice_p,
                    zh_p=float(pick(r, [0.0, 0.0, 0.3])),
                    key_lo=k[0],
                    key_hi=k[1],
                )


def populate(pop: Organizations, n_legit: int, mult: dict[str, float]) -> None:
    """Add about ``n_legit`` legitimate accounts, look-alike kinds at their documented sizes."""
    f = n_legit / 11_000

    def size(kind: str, base: float) -> int:
        return max(1, round(base * f * mult.get(kind, 1.0))) if mult.get(kind, 1.0) > 0 else 0

    n_fleet_orgs = size("coding-fleet", 5)
    n_eval = size("eval-harness", 45)
    n_apps = size("app", 130)
    n_routers = size("router", 6)
    n_vendors = size("synthetic-data-vendor", 4)
    n_power = size("power-user", 240)
    campuses, offices = size("shared-nat", 3), size("shared-nat", 6)
    pop.coding_fleets(n_fleet_orgs)
    pop.eval_harnesses(n_eval)
    pop.apps(n_apps)
    pop.routers(n_routers)
    pop.vendors(n_vendors)
    pop.power_users(n_power)
    pop.shared_nat(campuses, offices)
    pop.ordinary(max(0, n_legit - len(pop.cast)), cgnat_share=0.1 * mult.get("cgnat", 1.0))
