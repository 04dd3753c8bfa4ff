"""Registration records: e-mail domains, payment instruments, signup paths, ages.

The values are shared by both sides on purpose: operators register with the same webmail
providers, pay with the same kinds of cards and use the same onboarding paths as students,
startups and hobbyists do.
"""

from __future__ import annotations

import numpy as np

from stillwatch.sim.cast import DAY_MS, opaque_ids, pick

WEBMAIL = ("gmail.com", "outlook.com", "hotmail.com", "yahoo.com", "icloud.com", "proton.me")
WEBMAIL_P = np.array([0.55, 0.15, 0.07, 0.07, 0.1, 0.06])
REGIONAL = {
    "KR": ("naver.com", "daum.net"),
    "JP": ("yahoo.co.jp",),
    "TW": ("yahoo.com.tw",),
    "HK": ("netvigator.com",),
    "DE": ("gmx.de", "web.de"),
    "FR": ("orange.fr",),
    "IN": ("rediffmail.com",),
    "BR": ("uol.com.br",),
}
ZH_MAIL = ("qq.com", "163.com", "126.com")
UNIVERSITIES = (
    "stanford.edu",
    "mit.edu",
    "cmu.edu",
    "berkeley.edu",
    "ox.ac.uk",
    "tum.de",
    "hku.hk",
    "ntu.edu.tw",
    "nus.edu.sg",
    "umich.edu",
    "ethz.ch",
    "utoronto.ca",
)


def personal_email(rng: np.random.Generator, country: str, writes_zh: bool) -> str:
    if writes_zh and rng.random() < 0.45:
        return ZH_MAIL[int(rng.integers(0, len(ZH_MAIL)))]
    if country in REGIONAL and rng.random() < 0.3:
        opts = REGIONAL[country]
        return opts[int(rng.integers(0, len(opts)))]
    return str(pick(rng, WEBMAIL, WEBMAIL_P))


def company_domain(org: str) -> str:
    return org.lower().replace(" ", "") + ".com"


def payment_ids(rng: np.random.Generator, n: int) -> list[str]:
    """Opaque payment fingerprints, one per instrument."""
    return opaque_ids(rng, n, "pm_", 12)


def legit_created(rng: np.random.Generator, t0: int, t_end: int) -> int:
    """Registration time of a legitimate account: most old, a steady stream of new ones."""
    u = rng.random()
    if u < 0.7:
        return int(t0 - rng.uniform(30, 900) * DAY_MS)
    if u < 0.82:
        return int(t0 - rng.uniform(0, 30) * DAY_MS)
    return int(rng.uniform(t0, t_end - DAY_MS // 2))


def legit_verified(rng: np.random.Generator, created: int, t0: int) -> bool:
    age = (t0 - created) / DAY_MS
    return bool(rng.random() < (0.45 if age > 180 else 0.2 if age > 0 else 0.08))


def legit_created_many(rng: np.random.Generator, n: int, t0: int, t_end: int) -> np.ndarray:
    """:func:`legit_created` for ``n`` accounts at once."""
    u = rng.random(n)
    old = t0 - rng.uniform(30, 900, n) * DAY_MS
    recent = t0 - rng.uniform(0, 30, n) * DAY_MS
    new = rng.uniform(t0, t_end - DAY_MS // 2, n)
    return np.where(u < 0.7, old, np.where(u < 0.82, recent, new)).astype(np.int64)


def emails_many(rng: np.random.Generator, country: np.ndarray, writes_zh: np.ndarray) -> np.ndarray:
    """:func:`personal_email` for many accounts at once."""
    n = len(country)
    out = rng.choice(np.array(WEBMAIL, dtype=object), size=n, p=WEBMAIL_P)
    regional = np.isin(country, list(REGIONAL)) & (rng.random(n) < 0.3)
    for i in np.nonzero(regional)[0].tolist():
        opts = REGIONAL[str(country[i])]
        out[i] = opts[int(rng.integers(0, len(opts)))]
    zh = writes_zh & (rng.random(n) < 0.45)
    out[zh] = rng.choice(np.array(ZH_MAIL, dtype=object), size=int(zh.sum()))
    return out
