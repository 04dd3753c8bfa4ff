"""Rhythm per account: the hour-of-week profile in the account's apparent time zone, the
longest idle gap, the duty cycle and how regular the gaps between requests are.

The apparent time zone is the UTC offset that puts the account's quietest six hours at
01:00–07:00 local time: people sleep; a scheduler does not, and its quietest window holds a
quarter of its traffic. Catches: 24/7 duty cycles, no nights or weekends, metronome gaps.
Known false positives: coding-agent fleets and apps serving users around the world run around
the clock too; night-shift workers; an account with a handful of requests has a quiet window by
chance (detectors ask for enough exchanges).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from stillwatch.features.sources import Sources, epoch_s, hour_bin, safe_div, share, std_pop

QUIET_HOURS = 6
# 1970-01-01 was a Thursday: day number + 3, mod 7, is the weekday with Monday = 0.
_THURSDAY = 3


def apparent_offset(src: Sources) -> ir.Table:
    """(account_id, apparent_utc_offset, quiet_exchanges): the quietest six-hour window."""
    ex = src.exchanges
    hours = ex.group_by(account_id=ex.account_id, hour=ex.ts.hour().cast("int64")).aggregate(
        n=ex.count()
    )
    shifts = ibis.memtable({"k": list(range(QUIET_HOURS))}, schema={"k": "int64"})
    # Each hour's count belongs to the windows starting up to five hours before it.
    spread = hours.cross_join(shifts)
    spread = spread.select(
        "account_id", "n", start=((spread.hour - spread.k + 24) % 24).cast("int64")
    )
    sums = spread.group_by("account_id", "start").aggregate(quiet=spread.n.sum())
    starts = ibis.memtable({"s": list(range(24))}, schema={"s": "int64"})
    grid = hours.select("account_id").distinct().cross_join(starts)
    full = grid.left_join(sums, [grid.account_id == sums.account_id, grid.s == sums.start]).select(
        grid.account_id, grid.s, quiet=sums.quiet.fill_null(0)
    )
    w = ibis.window(group_by=full.account_id, order_by=[full.quiet, full.s])
    ranked = full.mutate(rank=ibis.row_number().over(w))
    best = ranked.filter(ranked.rank == 0)
    offset = (1 - best.s + 24) % 24
    return best.select(
        "account_id",
        apparent_utc_offset=ibis.cases((offset > 12, offset - 24), else_=offset).cast("int64"),
        quiet_exchanges=best.quiet.cast("int64"),
    )


def local_times(src: Sources) -> ir.Table:
    """Each exchange with its local hour of week (Monday 00:00 = 0) in the apparent zone."""
    ex = src.exchanges
    off = apparent_offset(src)
    j = ex.inner_join(off, "account_id")
    local_s = epoch_s(j.ts) + j.apparent_utc_offset * 3600
    local_day = (local_s / 86400).floor().cast("int64")
    weekday = (local_day + _THURSDAY) % 7
    local_hour = ((local_s / 3600).floor().cast("int64")) % 24
    return j.select(
        "account_id",
        "ts",
        "event_id",
        "apparent_utc_offset",
        "quiet_exchanges",
        weekday=weekday,
        hour_of_week=(weekday * 24 + local_hour).cast("int64"),
    )


def hour_of_week_profile(src: Sources) -> ir.Table:
    """The hourly window: exchanges per account per local hour of week (0–167)."""
    lt = local_times(src)
    return lt.group_by("account_id", "hour_of_week").aggregate(exchanges=lt.count())


def rhythm_features(src: Sources) -> ir.Table:
    lt = local_times(src)
    lt = lt.mutate(hour=hour_bin(lt.ts), sec=epoch_s(lt.ts))
    w = ibis.window(group_by=lt.account_id, order_by=[lt.ts, lt.event_id])
    lt = lt.mutate(gap=lt.sec - lt.sec.lag().over(w))
    per = lt.group_by("account_id").aggregate(
        apparent_utc_offset=lt.apparent_utc_offset.max(),
        quiet=lt.quiet_exchanges.max(),
        n=lt.count(),
        weekend_share=share(lt.weekday >= 5),
        how_bins=lt.hour_of_week.nunique(),
        active_hours=lt.hour.nunique(),
        first_hour=lt.hour.min(),
        last_hour=lt.hour.max(),
        longest_gap=lt.gap.max(),
        gap_mean=lt.gap.mean(),
        gap_std=std_pop(lt.gap),
    )
    span_hours = per.last_hour - per.first_hour + 1
    return per.select(
        "account_id",
        "apparent_utc_offset",
        quiet_window_share=safe_div(per.quiet, per.n),
        weekend_share=per.weekend_share,
        hour_of_week_coverage=safe_div(per.how_bins, ibis.least(span_hours, 168)),
        duty_cycle=safe_div(per.active_hours, span_hours),
        longest_idle_hours=(per.longest_gap / 3600).cast("float64"),
        interarrival_cv=safe_div(per.gap_std, per.gap_mean),
    )
