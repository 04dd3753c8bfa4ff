"""When people and machines send requests: daily curves, weekly rhythm, scheduler slots.

Humans follow their local clock: little between 01:00 and 07:00, peaks late morning and
afternoon, a tail into the evening, fewer sessions at weekends. Coding fleets and apps serving
many end users are busy in working hours and never quite stop. A job scheduler spreading work
over many accounts makes them busy in the same minutes.
"""

from __future__ import annotations

import numpy as np

from stillwatch.sim.cast import BURST, DAY_MS, FLAT, HOUR_MS, HUMAN, SCHEDULER

HUMAN_CURVE = np.array(
    [
        2,
        1.2,
        0.8,
        0.5,
        0.4,
        0.5,
        1.2,
        2.5,
        4.5,
        6.5,
        7.5,
        7.5,
        6.5,
        7.0,
        7.5,
        7.5,
        7.0,
        6.0,
        5.0,
        5.0,
        5.5,
        5.0,
        4.0,
        3.0,
    ],
    dtype=float,
)
HUMAN_CURVE /= HUMAN_CURVE.sum()
WORKDAY_CURVE = np.full(24, 1.6) + np.where((np.arange(24) >= 8) & (np.arange(24) <= 18), 5.0, 0.0)
WORKDAY_CURVE /= WORKDAY_CURVE.sum()
FIRST_WEEKDAY = 2  # the default window opens on Wednesday 22 April 2026


def is_weekend(day: int) -> bool:
    return (FIRST_WEEKDAY + day) % 7 >= 5


def session_starts(
    rng: np.random.Generator,
    day_start: int,
    rhythm: np.ndarray,
    tz: np.ndarray,
    burst_at: np.ndarray,
    slot_minutes: np.ndarray,
) -> np.ndarray:
    """Start time (epoch ms) of each session given its account's rhythm and time zone.

    ``burst_at`` is the local hour a bursty account's run begins today; ``slot_minutes`` the
    minute of the day each scheduled session was assigned (``-1`` for non-scheduled ones).
    """
    n = len(rhythm)
    out = np.empty(n, dtype=np.int64)
    frac = rng.random(n)
    local_h = np.where(
        rhythm == HUMAN,
        rng.choice(24, size=n, p=HUMAN_CURVE),
        rng.choice(24, size=n, p=WORKDAY_CURVE),
    ).astype(float)
    utc_h = np.mod(local_h + frac - tz, 24.0)
    out[:] = day_start + (utc_h * HOUR_MS).astype(np.int64)
    flat = rhythm == FLAT
    out[flat] = day_start + (rng.random(int(flat.sum())) * DAY_MS).astype(np.int64)
    burst = rhythm == BURST
    if burst.any():
        # the run starts at a working hour and lasts one to two hours
        start_h = np.mod(burst_at[burst] - tz[burst], 24.0)
        span = rng.uniform(0.5, 2.0, int(burst.sum()))
        out[burst] = day_start + ((start_h + rng.random(int(burst.sum())) * span) * HOUR_MS).astype(
            np.int64
        )
    sched = rhythm == SCHEDULER
    if sched.any():
        out[sched] = day_start + slot_minutes[sched].astype(np.int64) * 60_000
    # one sub-minute offset distribution for every population
    return out - (out - day_start) % 60_000 + rng.integers(0, 60_000, n)
