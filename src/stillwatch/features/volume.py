"""Volume and token shape per account.

Catches: accounts that ask for the largest outputs a model gives, write far more than they
read, or ask for reasoning on everything; steady daily volumes. Known false positives: power
users, synthetic-data vendors and evaluation harnesses have the same shapes one by one.
"""

from __future__ import annotations

import ibis.expr.types as ir

from stillwatch.features.sources import Sources, day_bin, safe_div, share, std_pop


def per_day(src: Sources) -> ir.Table:
    """Exchanges per account per active UTC day (the daily window's volume)."""
    ex = src.exchanges
    return ex.group_by(account_id=ex.account_id, day=day_bin(ex.ts)).aggregate(n=ex.count())


def volume_features(src: Sources) -> ir.Table:
    ex = src.exchanges
    cap = ex.group_by("model").aggregate(model_max_cap=ex.max_tokens.max())
    x = ex.left_join(cap, "model").select(
        ex.account_id,
        ex.ts,
        ex.input_tokens,
        ex.output_tokens,
        ex.reasoning_tokens,
        ex.max_tokens,
        ex.thinking,
        ex.tools_count,
        ex.status,
        "model_max_cap",
    )
    base = x.group_by("account_id").aggregate(
        exchanges=x.count(),
        first_ts=x.ts.min(),
        last_ts=x.ts.max(),
        mean_input_tokens=x.input_tokens.mean(),
        mean_output_tokens=x.output_tokens.mean(),
        sum_in=x.input_tokens.sum(),
        sum_out=x.output_tokens.sum(),
        sum_reasoning=x.reasoning_tokens.sum(),
        thinking_share=share(x.thinking),
        max_cap_share=share(x.max_tokens == x.model_max_cap),
        capped_share=share(x.output_tokens >= x.max_tokens * 0.95),
        tools_share=share(x.tools_count > 0),
        error_share=share(x.status != "ok"),
    )
    days = per_day(src)
    daily = days.group_by("account_id").aggregate(
        active_days=days.count(),
        day_mean=days.n.mean(),
        day_std=std_pop(days.n),
    )
    j = base.inner_join(daily, "account_id")
    return j.select(
        "account_id",
        "exchanges",
        "active_days",
        "first_ts",
        "last_ts",
        exchanges_per_active_day=safe_div(j.exchanges, j.active_days),
        daily_volume_cv=safe_div(j.day_std, j.day_mean),
        mean_input_tokens=j.mean_input_tokens.cast("float64"),
        mean_output_tokens=j.mean_output_tokens.cast("float64"),
        output_input_ratio=safe_div(j.sum_out, j.sum_in),
        reasoning_share=safe_div(j.sum_reasoning, j.sum_reasoning + j.sum_out),
        thinking_share=j.thinking_share,
        max_cap_share=j.max_cap_share,
        capped_share=j.capped_share,
        tools_share=j.tools_share,
        error_share=j.error_share,
    )
