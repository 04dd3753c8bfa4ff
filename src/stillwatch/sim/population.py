"""Legitimate accounts: ordinary users, and the look-alikes that resemble campaigns.

Ordinary users are many and mostly small (a heavy tail of activity), live in time zones with
a human daily and weekly rhythm, and reach the API from home ISPs, phones behind CGNAT, campus
and office NAT, or the cloud their app runs in. Look-alike kinds (labelled
``benign:<kind>``; organizations are built in ``organizations``) each match campaigns on
some evidence:

- ``coding-fleet``, ``eval-harness``, ``app``, ``router``, ``synthetic-data-vendor``:
  organizations, described and built in ``organizations``;
- ``power-user``: heavy individuals, long sessions, reasoning models, odd hours;
- ``shared-nat``: students and staff behind one campus or office NAT, whole classes
  registering the same afternoon through the education path;
- ``cgnat``: phone users behind carrier NAT shared by thousands.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stillwatch.sim import clients
from stillwatch.sim.cast import (
    AGENT,
    CHAT,
    CODING,
    DAY_MS,
    FLAT,
    HOUR_MS,
    HUMAN,
    OSS,
    PER_REQUEST,
    PER_SESSION,
    Cast,
    opaque_ids,
    pick,
)
from stillwatch.sim.network import COUNTRY_CODES, COUNTRY_SHARE, COUNTRY_TZ, COUNTRY_ZH, AddressBook
from stillwatch.sim.prompts import org_name
from stillwatch.sim.registration import (
    UNIVERSITIES,
    company_domain,
    emails_many,
    legit_created,
    legit_created_many,
    legit_verified,
    payment_ids,
    personal_email,
)
from stillwatch.sim.scenario import LEGIT_FAMILY_SHARES
from stillwatch.sim.voices import assigned, family_bits

MAX_TOKENS = np.array([1024, 2048, 4096, 8192, 16000, 32000])
MAX_TOKENS_P = np.array([0.22, 0.1, 0.3, 0.2, 0.12, 0.06])
TEMPERATURES = np.array([-1.0, 0.0, 0.2, 0.5, 0.7, 1.0])
TEMPERATURES_P = np.array([0.45, 0.1, 0.08, 0.1, 0.17, 0.1])
TOOLS = np.array([0, 1, 2, 3, 4, 6, 8, 12, 16, 24])
# students ask for reasoning, build for hackathons and course projects
STUDENT_FAMILIES = {"reasoning": 0.3, "context": 0.25, "task": 0.1, "smalltalk": 0.1}
CLOUD_EGRESS = "cloud-egress"  # shared serverless pool: apps and some operators use it
CLOUD_COUNTRIES = ("US", "US", "US", "DE", "SG", "JP", "GB", "NL")


@dataclass
class Population:
    """Adds the legitimate accounts of one data set to a :class:`Cast`."""

    rng: np.random.Generator
    cast: Cast
    book: AddressBook
    t0: int
    t_end: int
    release_ms: int | None
    factor: float

    # ---- shared pieces -------------------------------------------------------------------
    def _country(self) -> str:
        return str(pick(self.rng, COUNTRY_CODES, COUNTRY_SHARE))

    def _tz(self, country: str) -> float:
        tz = COUNTRY_TZ[country]
        if country == "US":
            tz = float(pick(self.rng, [-8.0, -7.0, -6.0, -5.0], [0.35, 0.1, 0.2, 0.35]))
        return tz

    def _adoption(self, early: float = 0.08, later: float = 0.3) -> tuple[float, float]:
        """Days after a release this account switches (inf = never), and how much it moves."""
        u = self.rng.random()
        if self.release_ms is None or u > early + later:
            return np.inf, 0.0
        delay = self.rng.uniform(0.05, 1.0) if u < early else self.rng.uniform(1.0, 20.0)
        return float(delay), float(self.rng.uniform(0.4, 1.0))

    def _keys(self, n: int) -> tuple[int, int]:
        return self.cast.add_keys(self.cast.new_ids("key_", n, 8))

    def _window(self, created: int) -> tuple[int, int]:
        start = max(self.t0, created + int(self.rng.uniform(0.0, 2.0) * HOUR_MS))
        return start, self.t_end

    def _server_egress(self, country: str) -> tuple[int, int, int]:
        """Where a server-side app calls from: fixed cloud/VPS addresses or serverless."""
        u = self.rng.random()
        if u < 0.3:
            lo, hi = self.book.pool(CLOUD_EGRESS, "cloud", CLOUD_COUNTRIES, int(3000 * self.factor))
            return lo, hi, PER_REQUEST
        kind = "cloud" if u < 0.75 else "hosting"
        cc = country if self.book.asns_of(kind, country) else "US"
        lo, hi = self.book.fixed_block(kind, cc, int(self.rng.integers(1, 4)))
        return lo, hi, PER_SESSION

    def _server_egress_many(
        self,
        rows: np.ndarray,
        country: np.ndarray,
        ip_lo: np.ndarray,
        ip_hi: np.ndarray,
        ip_mode: np.ndarray,
    ) -> None:
        """:meth:`_server_egress` for many accounts at once (written into the given arrays)."""
        r, book = self.rng, self.book
        u = r.random(len(rows))
        serverless = rows[u < 0.3]
        lo, hi = book.pool(CLOUD_EGRESS, "cloud", CLOUD_COUNTRIES, int(3000 * self.factor))
        ip_lo[serverless], ip_hi[serverless], ip_mode[serverless] = lo, hi, PER_REQUEST
        for kind, chosen in (
            ("cloud", rows[(u >= 0.3) & (u < 0.75)]),
            ("hosting", rows[u >= 0.75]),
        ):
            cc = np.array(
                [c if book.asns_of(kind, c) else "US" for c in country[chosen].tolist()],
                dtype=object,
            )
            sizes = r.integers(1, 4, len(chosen))
            first = book.blocks(kind, cc, sizes)
            ip_lo[chosen], ip_hi[chosen], ip_mode[chosen] = first, first + sizes, PER_SESSION

    def _common(self, country: str, writes_zh: bool) -> dict:
        r = self.rng
        thinking = float(pick(r, [0.02, 0.4, 0.85], [0.55, 0.28, 0.17]))
        delay, share = self._adoption()
        return {
            "country": country,
            "tz": self._tz(country),
            "zh_p": 0.92 if writes_zh else 0.0,
            "thinking_p": thinking,
            "max_tokens": int(pick(r, MAX_TOKENS, MAX_TOKENS_P)),
            "temperature": float(pick(r, TEMPERATURES, TEMPERATURES_P)),
            "client": int(clients.draw(r, 1)[0]),
            "adopt_delay": delay,
            "adopt_share": share,
            "weekend": float(r.uniform(0.35, 1.1)),
            "tools": int(pick(r, TOOLS)) if r.random() < 0.2 else 0,
        }

    def _record(
        self, country: str, writes_zh: bool, created: int | None = None, **extra: object
    ) -> dict:
        r = self.rng
        created = legit_created(r, self.t0, self.t_end) if created is None else created
        start, end = self._window(created)
        rec = {
            "account_id": self.cast.new_id("acct_"),
            "created_ms": created,
            "email_domain": personal_email(r, country, writes_zh),
            "payment_fingerprint": self.cast.new_id("pm_", 12),
            "signup_path": str(
                pick(
                    r,
                    ["self-serve", "education", "startup-program", "research-program"],
                    [0.86, 0.06, 0.05, 0.03],
                )
            ),
            "org_name": org_name(r) if r.random() < 0.25 else None,
            "verified": legit_verified(r, created, self.t0),
            "kind": "benign",
            "start_ms": start,
            "end_ms": end,
        }
        rec.update(extra)
        return rec

    # ---- ordinary users ------------------------------------------------------------------
    def ordinary(self, n: int, cgnat_share: float) -> None:
        """Ordinary users, built a block at a time (they are most of a large population)."""
        for lo in range(0, n, 200_000):
            self._ordinary_block(min(200_000, n - lo), cgnat_share)

    def _ordinary_block(self, n: int, cgnat_share: float) -> None:
        r, book = self.rng, self.book
        country = r.choice(np.array(COUNTRY_CODES, dtype=object), size=n, p=COUNTRY_SHARE)
        zh_rate = np.vectorize(COUNTRY_ZH.get, otypes=[float])(country)
        writes_zh = r.random(n) < zh_rate
        created = legit_created_many(r, n, self.t0, self.t_end)
        start = np.maximum(self.t0, created + (r.uniform(0, 2, n) * HOUR_MS).astype(np.int64))
        email = emails_many(r, country, writes_zh)
        cards = np.array(payment_ids(r, n), dtype=object)
        family = np.nonzero(r.random(n) < 0.04)[0]  # families and small teams share a card
        if len(family) > 1:
            heads = family[: max(1, len(family) // 2)]
            cards[family[len(heads) :]] = cards[r.choice(heads, len(family) - len(heads))]
        path = r.choice(
            np.array(
                ["self-serve", "education", "startup-program", "research-program"], dtype=object
            ),
            size=n,
            p=[0.86, 0.06, 0.05, 0.03],
        )
        credits = np.isin(path, ["education", "research-program"]) & (r.random(n) < 0.6)
        cards[credits] = None  # credits granted, no card on file
        org = np.full(n, None, dtype=object)
        named = np.nonzero(r.random(n) < 0.25)[0]
        org[named] = [org_name(r) for _ in range(len(named))]
        age = (self.t0 - created) / DAY_MS
        verified = r.random(n) < np.where(age > 180, 0.45, np.where(age > 0, 0.2, 0.08))
        tz = np.vectorize(COUNTRY_TZ.get, otypes=[float])(country)
        us = country == "US"
        tz[us] = r.choice([-8.0, -7.0, -6.0, -5.0], size=int(us.sum()), p=[0.35, 0.1, 0.2, 0.35])
        delay, share = self._adoption_many(n)
        home = book.homes(country)
        ip_lo, ip_hi, ip_mode = home.copy(), home + 1, np.full(n, PER_SESSION)
        ip2_lo, ip2_hi, ip2_p = np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n)
        rhythm = np.full(n, HUMAN)
        kind = np.full(n, "benign", dtype=object)
        u = r.random(n)
        server = u < 0.3
        self._server_egress_many(np.nonzero(server)[0], country, ip_lo, ip_hi, ip_mode)
        rhythm[server & (r.random(n) < 0.2)] = FLAT
        mobile_heavy = ~server & (r.random(n) < cgnat_share)
        mobile_some = ~server & ~mobile_heavy & (r.random(n) < 0.15)
        for i in np.nonzero(mobile_heavy | mobile_some)[0].tolist():
            carrier = book.asns_of("mobile", str(country[i]))
            ip2_lo[i], ip2_hi[i] = book.pool(
                f"cgnat-{carrier[0]}", "mobile", (str(country[i]),), 40
            )
        ip2_p[mobile_heavy] = r.uniform(0.6, 1.0, int(mobile_heavy.sum()))
        ip2_p[mobile_some] = r.uniform(0.1, 0.4, int(mobile_some.sum()))
        kind[mobile_heavy] = "benign:cgnat"
        n_keys = r.choice([1, 1, 1, 2, 3], size=n)
        key_lo = len(self.cast.keys) + np.cumsum(n_keys) - n_keys
        self.cast.keys.extend(opaque_ids(r, int(n_keys.sum()), "key_", 8))
        ips = np.array(book.ips, dtype=object)
        self.cast.add_block(
            n,
            account_id=np.array(opaque_ids(r, n, "acct_"), dtype=object),
            created_ms=created,
            email_domain=email,
            payment_fingerprint=cards,
            signup_ip=ips[home],
            country=country,
            signup_path=path,
            org_name=org,
            verified=verified,
            kind=kind,
            start_ms=start,
            end_ms=np.full(n, self.t_end, dtype=np.int64),
            tz=tz,
            zh_p=np.where(writes_zh, 0.92, 0.0),
            thinking_p=r.choice([0.02, 0.4, 0.85], size=n, p=[0.55, 0.28, 0.17]),
            max_tokens=r.choice(MAX_TOKENS, size=n, p=MAX_TOKENS_P),
            temperature=r.choice(TEMPERATURES, size=n, p=TEMPERATURES_P),
            client=clients.draw(r, n),
            adopt_delay=delay,
            adopt_share=share,
            weekend=r.uniform(0.35, 1.1, n),
            voice=self.cast.add_voices(family_bits(r, n, assigned(LEGIT_FAMILY_SHARES))),
            voice_p=r.beta(4.0, 2.0, n),
            tools=np.where(r.random(n) < 0.2, r.choice(TOOLS, size=n), 0),
            sessions_per_day=r.lognormal(np.log(0.75), 0.9, n),
            active_p=r.beta(0.5, 4.0, n),
            content=r.choice([CHAT, CODING, OSS], size=n, p=[0.62, 0.33, 0.05]),
            frame=r.integers(0, 4, n),
            rhythm=rhythm,
            ip_lo=ip_lo,
            ip_hi=ip_hi,
            ip_mode=ip_mode,
            ip2_lo=ip2_lo,
            ip2_hi=ip2_hi,
            ip2_p=ip2_p,
            key_lo=key_lo,
            key_hi=key_lo + n_keys,
        )

    def _adoption_many(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        r = self.rng
        delay, share = np.full(n, np.inf), np.zeros(n)
        if self.release_ms is None:
            return delay, share
        u = r.random(n)
        early, later = u < 0.08, (u >= 0.08) & (u < 0.38)
        delay[early] = r.uniform(0.05, 1.0, int(early.sum()))
        delay[later] = r.uniform(1.0, 20.0, int(later.sum()))
        share[early | later] = r.uniform(0.4, 1.0, int((early | later).sum()))
        return delay, share

    def power_users(self, n: int) -> None:
        r = self.rng
        for _ in range(n):
            country = self._country()
            writes_zh = r.random() < COUNTRY_ZH[country]
            rec = self._record(country, writes_zh, kind="benign:power-user")
            rec["verified"] = bool(r.random() < 0.5)
            home = self.book.home(country)
            rec["signup_ip"] = self.book.ips[home]
            common = self._common(country, writes_zh)
            common["thinking_p"] = float(r.uniform(0.3, 0.95))
            common["tz"] = common["tz"] + float(pick(r, [0.0, 0.0, 3.0, 5.0]))  # night owls
            common["weekend"] = float(r.uniform(0.7, 1.2))
            common["max_tokens"] = int(pick(r, [8192, 16000, 32000]))
            common["tools"] = int(pick(r, TOOLS)) if r.random() < 0.5 else 0
            lo, hi, mode = (home, home + 1, PER_SESSION)
            if r.random() < 0.35:
                lo, hi, mode = self._server_egress(country)
            k = self._keys(int(r.integers(1, 5)))
            bits = family_bits(r, 1, {f: min(0.5, 3 * s) for f, s in LEGIT_FAMILY_SHARES.items()})
            self.cast.add(
                **rec,
                **common,
                voice=self.cast.add_voice(int(bits[0])),
                voice_p=float(r.uniform(0.3, 0.9)),
                sessions_per_day=float(r.lognormal(np.log(1.8), 0.6)),
                active_p=float(r.uniform(0.45, 0.95)),
                content=int(pick(r, [CHAT, CODING, AGENT], [0.4, 0.4, 0.2])),
                turns=float(r.uniform(2, 8)),
                gap_s=float(r.uniform(30, 200)),
                ip_lo=lo,
                ip_hi=hi,
                ip_mode=mode,
                key_lo=k[0],
                key_hi=k[1],
            )

    # ---- organizations -------------------------------------------------------------------
    def shared_nat(self, n_campus: int, n_office: int) -> None:
        """Campuses and offices: accounts behind one NAT, whole cohorts registering at once."""
        r = self.rng
        for i in range(n_campus + n_office):
            campus = i < n_campus
            country = (
                str(pick(r, ["US", "GB", "DE", "HK", "TW", "SG"])) if campus else self._country()
            )
            kind = "university" if campus else "corporate"
            cc = country if self.book.asns_of(kind, country) else "US"
            lo, hi = self.book.fixed_block(kind, cc, int(r.integers(1, 5)))
            size = int(r.integers(30, 110) if campus else r.integers(8, 40))
            domain = (
                UNIVERSITIES[int(r.integers(0, len(UNIVERSITIES)))]
                if campus
                else company_domain(org_name(r))
            )
            cohort_at = int(r.uniform(self.t0 - 20 * DAY_MS, self.t_end - 3 * DAY_MS))
            for _ in range(size):
                writes_zh = r.random() < COUNTRY_ZH[country] + (0.08 if campus else 0.0)
                created = None
                if campus and r.random() < 0.55:  # a course assignment: the class signs up together
                    created = cohort_at + int(r.uniform(0, 2.5) * HOUR_MS)
                rec = self._record(country, writes_zh, created=created, kind="benign:shared-nat")
                rec["email_domain"] = domain if r.random() < 0.85 else rec["email_domain"]
                rec["signup_ip"] = self.book.ips[int(r.integers(lo, hi))]
                if campus:
                    rec["signup_path"] = "education" if r.random() < 0.8 else "self-serve"
                    if r.random() < 0.7:
                        rec["payment_fingerprint"] = None
                    rec["org_name"] = None
                common = self._common(country, writes_zh)
                k = self._keys(1)
                bits = family_bits(r, 1, STUDENT_FAMILIES if campus else LEGIT_FAMILY_SHARES)
                self.cast.add(
                    **rec,
                    **common,
                    voice=self.cast.add_voice(int(bits[0])),
                    voice_p=float(r.beta(2.0, 3.0)),
                    sessions_per_day=float(r.lognormal(np.log(1.5), 0.8)),
                    active_p=float(r.beta(0.8, 3.0)),
                    content=int(pick(r, [CHAT, CODING, OSS], [0.5, 0.45, 0.05])),
                    ip_lo=lo,
                    ip_hi=hi,
                    key_lo=k[0],
                    key_hi=k[1],
                )
