"""Where requests come from: autonomous systems, address ranges and the pools drawn from them.

Legitimate users and operators draw from the *same* ranges: an operator's residential proxy
exits are home connections of ordinary ISPs, its datacenter proxies sit in the hosting ranges
developers rent servers in, and its cloud egress is the cloud that apps and coding fleets run
on. Mobile carriers put thousands of subscribers behind a few CGNAT addresses. So a shared
address or /24 is only evidence in proportion to how rare it is. The /24 networks an AS
announces are a fact about the AS (the same in every data set); which of them an actor's
addresses fall in is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# (asn, kind, countries it serves, share of its kind's traffic)
# Kinds: residential, mobile, cloud, hosting, university, corporate.
ASNS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (7922, "residential", ("US",)),
    (7018, "residential", ("US",)),
    (20115, "residential", ("US",)),
    (701, "residential", ("US",)),
    (5089, "residential", ("GB",)),
    (2856, "residential", ("GB",)),
    (3320, "residential", ("DE",)),
    (3215, "residential", ("FR",)),
    (12322, "residential", ("FR",)),
    (24560, "residential", ("IN",)),
    (17488, "residential", ("IN",)),
    (28573, "residential", ("BR",)),
    (4713, "residential", ("JP",)),
    (2516, "residential", ("JP",)),
    (4766, "residential", ("KR",)),
    (9318, "residential", ("KR",)),
    (3462, "residential", ("TW",)),
    (4760, "residential", ("HK",)),
    (9506, "residential", ("SG",)),
    (812, "residential", ("CA",)),
    (1221, "residential", ("AU",)),
    (1136, "residential", ("NL",)),
    (3352, "residential", ("ES",)),
    (4788, "residential", ("MY",)),
    (21928, "mobile", ("US",)),
    (22394, "mobile", ("US",)),
    (55836, "mobile", ("IN",)),
    (12576, "mobile", ("GB",)),
    (3209, "mobile", ("DE",)),
    (26599, "mobile", ("BR",)),
    (17676, "mobile", ("JP",)),
    (9644, "mobile", ("KR",)),
    (4657, "mobile", ("SG",)),
    (24158, "mobile", ("TW",)),
    (16509, "cloud", ("US", "DE", "SG", "JP", "GB", "IN")),
    (14618, "cloud", ("US",)),
    (15169, "cloud", ("US", "NL", "SG", "TW")),
    (8075, "cloud", ("US", "NL", "GB", "SG")),
    (31898, "cloud", ("US", "JP")),
    (45102, "cloud", ("SG", "HK")),
    (24940, "hosting", ("DE",)),
    (16276, "hosting", ("FR", "CA")),
    (14061, "hosting", ("US", "NL", "SG", "IN")),
    (63949, "hosting", ("US", "JP", "SG")),
    (20473, "hosting", ("US", "NL", "JP")),
    (51167, "hosting", ("DE", "US", "SG")),
    (60781, "hosting", ("NL", "US")),
    (9009, "hosting", ("GB", "US", "DE", "SG")),
    (12876, "hosting", ("FR", "NL")),
    (8100, "hosting", ("US",)),
    (62240, "hosting", ("GB", "US", "DE")),
    (36352, "hosting", ("US",)),
    (40065, "hosting", ("US", "HK", "SG")),
    (3, "university", ("US",)),
    (32, "university", ("US",)),
    (786, "university", ("GB",)),
    (680, "university", ("DE",)),
    (9381, "university", ("HK",)),
    (7539, "university", ("TW",)),
    (2914, "corporate", ("US",)),
    (3356, "corporate", ("US", "GB", "DE")),
    (6461, "corporate", ("US", "FR")),
    (174, "corporate", ("US", "NL")),
)
KINDS = ("residential", "mobile", "cloud", "hosting", "university", "corporate")

# Billing countries with the share of legitimate accounts, a UTC offset for the daily rhythm,
# and the share of their legitimate users who write in Chinese.
COUNTRIES: tuple[tuple[str, float, float, float], ...] = (
    ("US", 0.34, -6.0, 0.045),
    ("IN", 0.09, 5.5, 0.0),
    ("GB", 0.06, 0.0, 0.01),
    ("DE", 0.05, 1.0, 0.0),
    ("FR", 0.04, 1.0, 0.0),
    ("BR", 0.04, -3.0, 0.0),
    ("JP", 0.04, 9.0, 0.01),
    ("KR", 0.05, 9.0, 0.0),
    ("TW", 0.03, 8.0, 0.9),
    ("HK", 0.02, 8.0, 0.9),
    ("SG", 0.03, 8.0, 0.45),
    ("MY", 0.02, 8.0, 0.3),
    ("CA", 0.04, -5.0, 0.06),
    ("AU", 0.03, 10.0, 0.06),
    ("NL", 0.03, 1.0, 0.0),
    ("ES", 0.03, 1.0, 0.0),
)
COUNTRY_CODES = tuple(c for c, *_ in COUNTRIES)
COUNTRY_SHARE = np.array([s for _, s, _, _ in COUNTRIES]) / sum(s for _, s, _, _ in COUNTRIES)
COUNTRY_TZ = {c: tz for c, _, tz, _ in COUNTRIES}
COUNTRY_ZH = {c: zh for c, _, _, zh in COUNTRIES}


@dataclass
class AddressBook:
    """Every address any exchange can carry, with its ASN, country and kind.

    Addresses are appended as actors need them; pools are index ranges that actors sample.
    """

    rng: np.random.Generator
    ips: list[str] = field(default_factory=list)
    asn: list[int] = field(default_factory=list)
    country: list[str] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    _prefixes: dict[int, list[tuple[int, int, int]]] = field(default_factory=dict)
    _pools: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    _asns: dict[tuple[str, str | None], list[int]] = field(default_factory=dict)

    def _asn_prefixes(self, asn: int, n24: int = 400) -> list[tuple[int, int, int]]:
        """The /24 networks an AS announces (first three octets): a function of the AS alone."""
        if asn not in self._prefixes:
            rng = np.random.default_rng([asn, 24])
            a = int(rng.integers(11, 223))
            while a in (127, 100, 169, 172, 192, 198, 203):
                a = int(rng.integers(11, 223))
            b = int(rng.integers(0, 256))
            thirds = rng.choice(256 * 4, size=400, replace=False)
            self._prefixes[asn] = [(a, (b + int(t) // 256) % 256, int(t) % 256) for t in thirds]
        return self._prefixes[asn]

    def asns_of(self, kind: str, country: str | None = None) -> list[int]:
        key = (kind, country)
        if key not in self._asns:
            out = [a for a, k, cs in ASNS if k == kind and (country is None or country in cs)]
            self._asns[key] = out or [a for a, k, _ in ASNS if k == kind]
        return self._asns[key]

    def add(
        self, asn: int, country: str, kind: str, n24: int = 256, host: int | None = None
    ) -> int:
        """Add one address in ``asn`` and return its index."""
        prefixes = self._asn_prefixes(asn, n24)
        a, b, c = prefixes[int(self.rng.integers(0, len(prefixes)))]
        d = host if host is not None else int(self.rng.integers(1, 255))
        self.ips.append(f"{a}.{b}.{c}.{d}")
        self.asn.append(asn)
        self.country.append(country)
        self.kind.append(kind)
        return len(self.ips) - 1

    def home(self, country: str) -> int:
        """A home broadband address of an ordinary ISP in ``country``."""
        asns = self.asns_of("residential", country)
        return self.add(asns[int(self.rng.integers(0, len(asns)))], country, "residential", 400)

    def homes(self, countries: np.ndarray) -> np.ndarray:
        """:meth:`home` for many accounts at once; returns their address indices."""
        return self._bulk("residential", countries)

    def _bulk(
        self,
        kind: str,
        countries: np.ndarray,
        rng: np.random.Generator | None = None,
        only: list[int] | None = None,
    ) -> np.ndarray:
        """One new address of ``kind`` per entry of ``countries``, made in bulk (in the ASNs
        ``only`` where given, whatever countries they serve)."""
        r = rng or self.rng
        n = len(countries)
        out = np.empty(n, dtype=np.int64)
        for country in sorted(set(countries.tolist())):
            rows = np.nonzero(countries == country)[0]
            asns = only or self.asns_of(kind, country)
            pick = r.integers(0, len(asns), len(rows))
            for j, asn in enumerate(asns):
                mine = rows[pick == j]
                if not len(mine):
                    continue
                prefixes = self._asn_prefixes(asn, 400)
                chosen = r.integers(0, len(prefixes), len(mine))
                hosts = r.integers(1, 255, len(mine))
                lo = len(self.ips)
                self.ips.extend(
                    f"{prefixes[c][0]}.{prefixes[c][1]}.{prefixes[c][2]}.{h}"
                    for c, h in zip(chosen.tolist(), hosts.tolist(), strict=True)
                )
                self.asn.extend([asn] * len(mine))
                self.country.extend([country] * len(mine))
                self.kind.extend([kind] * len(mine))
                out[mine] = np.arange(lo, len(self.ips))
        return out

    def fixed_block(self, kind: str, country: str, n: int) -> tuple[int, int]:
        """``n`` addresses in one /24 of one AS: a NAT, an office, a rented server set."""
        asns = self.asns_of(kind, country)
        asn = asns[int(self.rng.integers(0, len(asns)))]
        prefixes = self._asn_prefixes(asn, 400)
        a, b, c = prefixes[int(self.rng.integers(0, len(prefixes)))]
        lo = len(self.ips)
        first = int(self.rng.integers(1, 255 - min(n, 250)))
        for d in range(first, first + min(n, 250)):
            self.ips.append(f"{a}.{b}.{c}.{d}")
            self.asn.append(asn)
            self.country.append(country)
            self.kind.append(kind)
        return lo, len(self.ips)

    def blocks(self, kind: str, countries: np.ndarray, sizes: np.ndarray) -> np.ndarray:
        """:meth:`fixed_block` for many owners at once; returns each block's first index."""
        r = self.rng
        first = np.empty(len(countries), dtype=np.int64)
        for i, (country, size) in enumerate(zip(countries.tolist(), sizes.tolist(), strict=True)):
            asns = self.asns_of(kind, country)
            asn = asns[int(r.random() * len(asns))]
            prefixes = self._asn_prefixes(asn, 400)
            a, b, c = prefixes[int(r.random() * len(prefixes))]
            host = 1 + int(r.random() * (254 - size))
            first[i] = len(self.ips)
            self.ips.extend(f"{a}.{b}.{c}.{d}" for d in range(host, host + size))
            self.asn.extend([asn] * size)
            self.country.extend([country] * size)
            self.kind.extend([kind] * size)
        return first

    def pool(
        self,
        name: str,
        kind: str,
        countries: tuple[str, ...],
        size: int,
        rng: np.random.Generator | None = None,
        asns: list[int] | None = None,
    ) -> tuple[int, int]:
        """A shared pool: a carrier's CGNAT exits, a cloud's egress, a proxy provider's exits.

        Built once per (name, kind); every actor naming the same pool samples the same addresses.
        ``rng`` draws them (an operator's own, so its pools follow its seed); ``asns`` limits
        the networks they come from.
        """
        key = (name, kind)
        if key not in self._pools:
            r = rng or self.rng
            lo = len(self.ips)
            chosen = np.array(countries, dtype=object)[r.integers(0, len(countries), size)]
            made = self._bulk(kind, chosen, r, asns)
            # a pool is one contiguous range: reorder the new addresses as drawn
            for col in (self.ips, self.asn, self.country, self.kind):
                fresh = col[lo:]
                col[lo:] = [fresh[i - lo] for i in made.tolist()]
            self._pools[key] = (lo, len(self.ips))
        return self._pools[key]

    def release(self) -> None:
        """Free the address lists once they have been copied out (large data sets)."""
        self.ips, self.asn, self.country, self.kind = [], [], [], []

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return (
            np.array(self.ips, dtype=object),
            np.array(self.asn, dtype=np.int64),
            np.array(self.country, dtype=object),
            np.array(self.kind, dtype=object),
        )
