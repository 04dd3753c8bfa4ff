"""Registered in a campaign's own sign-up burst: evidence an account outside a campaign may add
to the one owned value it shares with it.

An operator registers its accounts in batches. An account it used once or twice shares one of
the campaign's frames with it and little else — as much as a customer who happened to use the
same phrase — but it was also registered in one of the campaign's batches: within
``bursts.WINDOW_HOURS`` of several of the campaign's own members, many more than the
campaign's registrations in the ``bursts.BASELINE_DAYS`` around it would put there by chance.
The surprise is the registration-burst detector's (a Poisson tail against the campaign's own
rate, ramped over the same ``SURPRISE_FROM`` to ``SURPRISE_TO``), measured against the
campaign's members instead of everyone on a sign-up path: a customer who signed up the same
afternoon as a campaign that registers a steady stream of accounts is no surprise; one who
signed up in the hour a campaign registered ten accounts after a quiet week is. Weighed as a
registration-burst tie (``link.graph.TYPE_TRUST``). Known false positive: a customer who
signed up inside one of the campaign's batches and used one of its phrases
(``release-pivot`` small development seed 1: one account beside 44 campaign accounts over the
twelve ``release-pivot`` and ``multi-operator`` development stores, seeds 1–6).
"""

from __future__ import annotations

import numpy as np

from stillwatch.detectors.base import ramp
from stillwatch.detectors.bursts import (
    BASELINE_DAYS,
    SURPRISE_FROM,
    SURPRISE_TO,
    WINDOW_HOURS,
    surprise,
)
from stillwatch.link.graph import TYPE_TRUST

# At least this many of the campaign's members in the window (the detector's smallest burst
# counts the account itself: five).
MIN_MATES = 4
KEY = "registration_burst:campaign"


def member_times(labels: np.ndarray, registered: np.ndarray, cluster: int) -> np.ndarray:
    """A cluster's members' registration times (hours), sorted; unknown times left out."""
    return np.sort(registered[(labels == cluster) & np.isfinite(registered)])


def burst_weight(t: float, members: np.ndarray) -> float:
    """How much registering at ``t`` (hours) says that an account is one of the campaign whose
    members registered at ``members`` (sorted hours): the trusted weight of a registration
    burst of the members around ``t``, 0 when ``t`` is unknown or the burst too small."""
    if not np.isfinite(t) or not len(members):
        return 0.0
    half, base_half = WINDOW_HOURS / 2, BASELINE_DAYS * 12
    mates = int(np.searchsorted(members, t + half, "right") - np.searchsorted(members, t - half))
    if mates < MIN_MATES:
        return 0.0
    around = int(
        np.searchsorted(members, t + base_half, "right") - np.searchsorted(members, t - base_half)
    )
    # the campaign's rate in the window, from its registrations around but outside it
    lam = max((around - mates) * WINDOW_HOURS / (2 * base_half - WINDOW_HOURS), 1e-3)
    s = surprise(mates, lam)
    return float(TYPE_TRUST["registration_burst"] * ramp(s, SURPRISE_FROM, SURPRISE_TO))
