"""One row per account (``account_features``) and one per account and active day
(``account_days``): the two feature tables of ``docs/store.md``, as Ibis expressions."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from stillwatch.features.conversation import conversation_features
from stillwatch.features.enforcement import enforcement_features
from stillwatch.features.infrastructure import infrastructure_features, network_days
from stillwatch.features.models import model_features, releases
from stillwatch.features.registration import registration_features
from stillwatch.features.rhythm import rhythm_features
from stillwatch.features.sources import Sources, hour_bin
from stillwatch.features.volume import volume_features

# Column order of ``account_features`` (after ``account_id``); the store's DDL holds the same
# names (a test checks the two agree).
FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "volume": ("exchanges", "active_days", "first_ts", "last_ts", "exchanges_per_active_day",
               "daily_volume_cv"),
    "tokens": ("mean_input_tokens", "mean_output_tokens", "output_input_ratio",
               "reasoning_share", "thinking_share", "max_cap_share", "capped_share",
               "tools_share", "error_share"),
    "rhythm": ("apparent_utc_offset", "quiet_window_share", "weekend_share",
               "hour_of_week_coverage", "duty_cycle", "longest_idle_hours", "interarrival_cv"),
    "conversation": ("conversations", "single_turn_share", "mean_turn_depth"),
    "models": ("models_used", "release_share", "first_release_lag_hours",
               "release_switch_share", "active_before_release"),
    "infrastructure": ("distinct_ips", "distinct_prefixes", "distinct_asns",
                       "distinct_user_agents", "distinct_tls", "distinct_countries",
                       "prefixes_per_active_day", "cloud_share", "hosting_share",
                       "mobile_share", "isp_share", "unknown_asn_share"),
    "registration": ("created_at", "age_days_at_first_use", "lifetime_days", "signup_path",
                     "verified", "email_domain_kind", "same_hour_signups",
                     "same_hour_same_path", "same_hour_same_signup_prefix", "payment_accounts"),
    "enforcement": ("enforced", "linked_enforced_accounts", "hours_after_linked_ban"),
}  # fmt: skip
FEATURE_COLUMNS: tuple[str, ...] = tuple(c for cols in FEATURE_GROUPS.values() for c in cols)


def accounts_seen(src: Sources) -> ir.Table:
    """Every account in the traffic or the accounts table."""
    return ibis.union(
        src.exchanges.select("account_id"), src.accounts.select("account_id")
    ).distinct()


def account_features(src: Sources) -> ir.Table:
    """The ``account_features`` row of every account seen (NULL where inputs are absent)."""
    everyone = accounts_seen(src)
    parts = [
        volume_features(src),
        rhythm_features(src),
        conversation_features(src),
        model_features(src),
        infrastructure_features(src),
        registration_features(src),
        enforcement_features(src),
    ]
    j = everyone
    for p in parts:
        j = j.left_join(p, j.account_id == p.account_id).drop("account_id_right")
    return j.select("account_id", *FEATURE_COLUMNS)


def account_days(src: Sources) -> ir.Table:
    """The daily window: one row per account per active UTC day."""
    ex = src.exchanges
    rel = releases(src)
    tagged = ex.left_join(rel, "model").select(
        ex.account_id,
        ex.ts,
        ex.model,
        ex.input_tokens,
        ex.output_tokens,
        ex.reasoning_tokens,
        is_release=rel.released_at.notnull(),
    )
    t = tagged.mutate(day=tagged.ts.date(), hour=hour_bin(tagged.ts))
    per = t.group_by("account_id", "day").aggregate(
        exchanges=t.count(),
        active_hours=t.hour.nunique(),
        input_tokens=t.input_tokens.sum(),
        output_tokens=t.output_tokens.sum(),
        reasoning_tokens=t.reasoning_tokens.sum(),
        distinct_models=t.model.nunique(),
        release_exchanges=t.is_release.cast("int64").sum(),
    )
    x = network_days(src)
    prefixes = x.group_by("account_id", "day").aggregate(distinct_prefixes=x.prefix.nunique())
    j = per.left_join(prefixes, ["account_id", "day"])
    return j.select(
        per.account_id,
        per.day,
        exchanges=per.exchanges,
        active_hours=per.active_hours,
        input_tokens=per.input_tokens,
        output_tokens=per.output_tokens,
        reasoning_tokens=per.reasoning_tokens,
        distinct_prefixes=j.distinct_prefixes.fill_null(0),
        distinct_models=per.distinct_models,
        release_exchanges=per.release_exchanges,
    )


# The canonical columns each feature is computed from ("a|b": either will do). A rule over a
# feature requires these, so a scan skips it, saying why, when they were never logged.
_TS = ("exchanges.ts",)
FEATURE_REQUIRES: dict[str, tuple[str, ...]] = {
    **{c: _TS for c in FEATURE_GROUPS["volume"]},
    "mean_input_tokens": ("exchanges.input_tokens",),
    "mean_output_tokens": ("exchanges.output_tokens",),
    "output_input_ratio": ("exchanges.input_tokens", "exchanges.output_tokens"),
    "reasoning_share": ("exchanges.reasoning_tokens", "exchanges.output_tokens"),
    "thinking_share": ("exchanges.thinking",),
    "max_cap_share": ("exchanges.max_tokens",),
    "capped_share": ("exchanges.max_tokens", "exchanges.output_tokens"),
    "tools_share": ("exchanges.tools_count",),
    "error_share": ("exchanges.status",),
    **{c: _TS for c in FEATURE_GROUPS["rhythm"]},
    **{c: ("exchanges.conversation_id",) for c in FEATURE_GROUPS["conversation"]},
    "mean_turn_depth": ("exchanges.conversation_id", "exchanges.turn_index"),
    **{c: _TS for c in FEATURE_GROUPS["models"]},
    "distinct_ips": ("exchanges.ip",),
    "distinct_prefixes": ("exchanges.ip|exchanges.ip_hash",),
    "prefixes_per_active_day": ("exchanges.ip|exchanges.ip_hash",),
    "distinct_asns": ("exchanges.asn",),
    "distinct_user_agents": ("exchanges.user_agent",),
    "distinct_tls": ("exchanges.tls_fingerprint",),
    "distinct_countries": ("exchanges.ip_country",),
    **{f"{k}_share": ("exchanges.asn",) for k in ("cloud", "hosting", "mobile", "isp")},
    "unknown_asn_share": ("exchanges.asn",),
    "created_at": ("accounts.created_at",),
    "age_days_at_first_use": ("accounts.created_at",),
    "lifetime_days": ("accounts.created_at",),
    "signup_path": ("accounts.signup_path",),
    "verified": ("accounts.verified",),
    "email_domain_kind": ("accounts.email_domain",),
    "same_hour_signups": ("accounts.created_at",),
    "same_hour_same_path": ("accounts.created_at", "accounts.signup_path"),
    "same_hour_same_signup_prefix": ("accounts.created_at", "accounts.signup_ip"),
    "payment_accounts": ("accounts.payment_fingerprint",),
    "enforced": ("enforcements.action",),
    "linked_enforced_accounts": (
        "enforcements.action",
        "accounts.payment_fingerprint|accounts.signup_ip|accounts.email_domain",
    ),
    "hours_after_linked_ban": ("enforcements.action", "accounts.created_at"),
}
