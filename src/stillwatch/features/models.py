"""Model mix and switching around releases, per account.

A *release* is a model first seen after the data's first day. Catches: accounts moving their
traffic to a new model within hours of its release (with the group-level view in the
release-pivot detector). Known false positives: early adopters, and every app whose provider
SDK defaults to the newest model.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from stillwatch.features.sources import Sources, epoch_s, safe_div

SWITCH_HOURS = 24


def releases(src: Sources) -> ir.Table:
    """(model, released_at): models first seen after the data's first UTC day."""
    ex = src.exchanges
    first = ex.group_by("model").aggregate(released_at=ex.ts.min())
    data_first_day = ex.ts.min().date().as_scalar()
    return first.filter(first.released_at.date() > data_first_day)


def model_features(src: Sources) -> ir.Table:
    ex = src.exchanges
    rel = releases(src)
    tagged = ex.left_join(rel, "model").select(
        ex.account_id, ex.ts, ex.model, "released_at", is_release=rel.released_at.notnull()
    )
    per = tagged.group_by("account_id").aggregate(
        models_used=tagged.model.nunique(),
        release_exchanges=tagged.is_release.cast("int64").sum(),
        n=tagged.count(),
        first_ts=tagged.ts.min(),
    )
    # Each account's first use of each release it used; the earliest adoption counts.
    r = tagged.filter(tagged.is_release)
    adopt = r.group_by("account_id", "model").aggregate(
        first_use=r.ts.min(), released_at=r.released_at.min()
    )
    w = ibis.window(group_by=adopt.account_id, order_by=[adopt.first_use, adopt.model])
    adopt = adopt.mutate(rank=ibis.row_number().over(w))
    first = adopt.filter(adopt.rank == 0).select(
        "account_id",
        adopted=adopt.model,
        first_use=adopt.first_use,
        released_at=adopt.released_at,
    )
    # Of the account's exchanges in the day after its first adoption, the share on it.
    after = ex.inner_join(first, "account_id")
    in_day = after.filter(
        (epoch_s(after.ts) >= epoch_s(after.first_use))
        & (epoch_s(after.ts) < epoch_s(after.first_use) + SWITCH_HOURS * 3600)
    )
    switch = in_day.group_by("account_id").aggregate(
        day_n=in_day.count(), day_on=(in_day.model == in_day.adopted).cast("int64").sum()
    )
    j = per.left_join(first, "account_id").left_join(switch, "account_id")
    return j.select(
        per.account_id,
        models_used=per.models_used,
        release_share=safe_div(per.release_exchanges, per.n),
        first_release_lag_hours=((epoch_s(j.first_use) - epoch_s(j.released_at)) / 3600).cast(
            "float64"
        ),
        release_switch_share=safe_div(j.day_on, j.day_n),
        active_before_release=ibis.cases(
            (j.released_at.isnull(), ibis.null("boolean")), else_=per.first_ts < j.released_at
        ),
    )
