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

from stillwatch.features.sources import Sources, epoch_s, hour_bin, safe_div, std_pop

QUIET_HOURS = 6
# 1970-01-01 was a Thursday: day number + 3, mod 7, is the weekday with Monday = 0.
_THURSDAY = 3


def hourly_counts(src: Sources) -> ir.Table:
    """The hourly window: (account_id, hour, n), exchanges per account per hour since 1970.
    Every rhythm figure but the gaps is read from it, a table far smaller than the traffic."""
    ex = src.exchanges
    per = ex.group_by(account_id=ex.account_id, hour=hour_bin(ex.ts)).aggregate(n=ex.count())
    return per.mutate(n=per.n.cast("int64"))


def apparent_offset(src: Sources, hourly: ir.Table | None = None) -> ir.Table:
    """(account_id, apparent_utc_offset, quiet_exchanges): the quietest six-hour window (the
    earliest start of the day's hours where several are as quiet)."""
    hourly = hourly_counts(src) if hourly is None else hourly
    # the UTC hour of the day (floored, so an hour before 1970 is counted as its clock shows)
    of_day = (hourly.hour % 24 + 24) % 24
    # one row per account: the exchanges in the six hours starting at each hour of the day
    # (summed as the rows are read, so the day's 24 windows are columns, not 144 sums)
    window = [[(s + i) % 24 for i in range(QUIET_HOURS)] for s in range(24)]
    day = hourly.group_by("account_id").aggregate(
        **{f"q{s}": hourly.n.sum(where=of_day.isin(hours)) for s, hours in enumerate(window)}
    )
    quiet = [day[f"q{s}"].fill_null(0) for s in range(24)]
    least = ibis.least(*quiet)
    start = ibis.cases(*((quiet[s] == least, s) for s in range(23)), else_=23)
    offset = (1 - start + 24) % 24
    return day.select(
        "account_id",
        apparent_utc_offset=ibis.cases((offset > 12, offset - 24), else_=offset).cast("int64"),
        quiet_exchanges=least.cast("int64"),
    )


def local_hours(src: Sources, hourly: ir.Table | None = None) -> ir.Table:
    """The hourly window with each hour's local weekday and hour of week (Monday 00:00 = 0)
    in the account's apparent zone. Offsets are whole hours, so an hour since 1970 falls on
    one local day and hour: its first second stands for every exchange in it."""
    hourly = hourly_counts(src) if hourly is None else hourly
    off = apparent_offset(src, hourly)
    j = hourly.inner_join(off, "account_id")
    local_s = (j.hour * 3600).cast("float64") + j.apparent_utc_offset * 3600
    local_day = (local_s / 86400).floor().cast("int64")
    weekday = (local_day + _THURSDAY) % 7
    local_hour = ((local_s / 3600).floor().cast("int64")) % 24
    return j.select(
        "account_id",
        "hour",
        "n",
        "apparent_utc_offset",
        "quiet_exchanges",
        weekday=weekday,
        hour_of_week=(weekday * 24 + local_hour).cast("int64"),
    )


def hour_of_week_profile(src: Sources) -> ir.Table:
    """Exchanges per account per local hour of week (0–167)."""
    lt = local_hours(src)
    return lt.group_by("account_id", "hour_of_week").aggregate(exchanges=lt.n.sum().cast("int64"))


def gaps(src: Sources) -> ir.Table:
    """(account_id, longest_gap, gap_mean, gap_std): the seconds between an account's
    consecutive exchanges. Exchanges in the same second are 0 apart whatever their order, so
    ordering by the second alone gives the same gaps as any tie-break."""
    ex = src.exchanges
    t = ex.select("account_id", sec=epoch_s(ex.ts))
    w = ibis.window(group_by=t.account_id, order_by=t.sec)
    t = t.mutate(gap=t.sec - t.sec.lag().over(w))
    return t.group_by("account_id").aggregate(
        longest_gap=t.gap.max(), gap_mean=t.gap.mean(), gap_std=std_pop(t.gap)
    )


def rhythm_features(src: Sources) -> ir.Table:
    lt = local_hours(src)
    weekend = (lt.weekday >= 5).ifelse(lt.n, 0)
    per = lt.group_by("account_id").aggregate(
        apparent_utc_offset=lt.apparent_utc_offset.max(),
        quiet=lt.quiet_exchanges.max(),
        n=lt.n.sum().cast("int64"),
        weekend=weekend.sum().cast("int64"),
        how_bins=lt.hour_of_week.nunique(),
        active_hours=lt.count(),
        first_hour=lt.hour.min(),
        last_hour=lt.hour.max(),
    )
    g = gaps(src)
    per = per.inner_join(g, "account_id")
    span_hours = per.last_hour - per.first_hour + 1
    return per.select(
        "account_id",
        "apparent_utc_offset",
        quiet_window_share=safe_div(per.quiet, per.n),
        weekend_share=safe_div(per.weekend, per.n),
        hour_of_week_coverage=safe_div(per.how_bins, ibis.least(span_hours, 168)),
        duty_cycle=safe_div(per.active_hours, span_hours),
        longest_idle_hours=(per.longest_gap / 3600).cast("float64"),
        interarrival_cv=safe_div(per.gap_std, per.gap_mean),
    )
