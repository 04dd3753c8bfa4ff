"""Enforcement: actions on every kind of account, with reasons from one vocabulary.

Providers throttle, challenge, suspend and ban legitimate accounts too (payment fraud,
chargebacks, spam, abuse), often in sweeps that catch many accounts within hours; abuse rings
are banned most of all; and some campaign accounts are never enforced at all. Each action's
reason is drawn from one vocabulary with distributions that overlap across populations, so
neither an action nor a reason gives a campaign away; an earlier ban is evidence only in
combination (accounts linked to banned ones, replacements registered right after a ban).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stillwatch.sim.cast import DAY_MS, HOUR_MS


@dataclass
class Enforcement:
    account: int
    ts: int
    action: str
    reason: str


REASONS = (
    "payment-fraud",
    "chargeback",
    "spam",
    "automated-abuse",
    "usage-policy",
    "suspicious-activity",
    "terms-of-service",
    "verification-required",
    "rate-limit-exceeded",
    "appeal-granted",
    "review-cleared",
)
# Reason distributions per (action, population); populations: legit, ring, campaign.
_P: dict[tuple[str, str], dict[str, float]] = {
    ("ban", "legit"): {
        "payment-fraud": 0.25,
        "chargeback": 0.2,
        "spam": 0.1,
        "usage-policy": 0.15,
        "automated-abuse": 0.1,
        "suspicious-activity": 0.1,
        "terms-of-service": 0.1,
    },
    ("ban", "ring"): {
        "payment-fraud": 0.25,
        "chargeback": 0.15,
        "spam": 0.2,
        "usage-policy": 0.1,
        "automated-abuse": 0.15,
        "suspicious-activity": 0.1,
        "terms-of-service": 0.05,
    },
    ("ban", "campaign"): {
        "payment-fraud": 0.15,
        "chargeback": 0.05,
        "spam": 0.05,
        "usage-policy": 0.2,
        "automated-abuse": 0.2,
        "suspicious-activity": 0.2,
        "terms-of-service": 0.15,
    },
    ("suspend", "*"): {
        "payment-fraud": 0.3,
        "chargeback": 0.2,
        "suspicious-activity": 0.25,
        "usage-policy": 0.15,
        "automated-abuse": 0.1,
    },
    ("challenge", "*"): {
        "verification-required": 0.5,
        "suspicious-activity": 0.3,
        "payment-fraud": 0.2,
    },
    ("throttle", "*"): {
        "rate-limit-exceeded": 0.7,
        "automated-abuse": 0.15,
        "suspicious-activity": 0.15,
    },
    ("reinstate", "*"): {"appeal-granted": 0.6, "review-cleared": 0.4},
}


def reason(rng: np.random.Generator, action: str, population: str) -> str:
    """A reason for ``action`` taken on an account of ``population``."""
    p = _P.get((action, population)) or _P[(action, "*")]
    names = list(p)
    u = rng.random() * sum(p.values())
    for name in names:
        u -= p[name]
        if u < 0:
            return name
    return names[-1]


# Legitimate accounts acted on over a 14-day window, by action (scaled with the window).
LEGIT_RATES = {"ban": 0.012, "suspend": 0.006, "challenge": 0.01, "throttle": 0.02}
SWEEP_SHARE = 0.5  # share of bans and suspensions that fall in a sweep (a few hours, many accounts)


def legitimate(
    rng: np.random.Generator,
    arrays: dict[str, np.ndarray],
    who: np.ndarray,
    t0: int,
    t_end: int,
) -> list[Enforcement]:
    """Actions on the legitimate accounts ``who``; a banned account's traffic ends at its ban
    (``end_ms`` is moved in ``arrays``)."""
    out: list[Enforcement] = []
    scale = (t_end - t0) / (14 * DAY_MS)
    margin = DAY_MS if t_end - t0 > 3 * DAY_MS else 0
    sweeps = rng.uniform(t0 + margin, t_end - margin, 3)
    start, end = arrays["start_ms"], arrays["end_ms"]
    busy = arrays["sessions_per_day"]
    taken = np.zeros(len(start), dtype=bool)
    for action, rate in LEGIT_RATES.items():
        n = rng.binomial(len(who), min(1.0, rate * scale))
        if action == "throttle":  # the busiest are throttled most
            w = busy[who] / busy[who].sum() if len(who) else busy[who]
            chosen = rng.choice(who, size=min(n, len(who)), replace=False, p=w)
        else:
            free = who[~taken[who]]
            chosen = rng.choice(free, size=min(n, len(free)), replace=False)
            taken[chosen] = action == "ban"
        for i in chosen.tolist():
            lo, hi = int(start[i]), int(end[i])
            if hi - lo < HOUR_MS:
                continue
            ts = int(rng.uniform(lo, hi))
            if action in ("ban", "suspend") and rng.random() < SWEEP_SHARE:
                sweep = int(sweeps[int(rng.integers(0, len(sweeps)))] + rng.uniform(0, 3) * HOUR_MS)
                if lo < sweep < hi:
                    ts = sweep
            out.append(Enforcement(i, ts, action, reason(rng, action, "legit")))
            if action == "ban":
                end[i] = ts
            elif action == "suspend" and rng.random() < 0.6:
                back = ts + int(rng.uniform(2, 72) * HOUR_MS)
                out.append(Enforcement(i, back, "reinstate", reason(rng, "reinstate", "legit")))
    return out
