"""The tables ``stillwatch scan`` writes (issue 10), in one block of DDL of their own.

Kept apart from the canonical tables' DDL so that it becomes one migration step when the
store's schema versioning lands. Every column is documented in ``docs/store.md``; every table
here holding an account id is registered for ``forget`` (``DETECTION_ACCOUNT_ROWS``).
"""

from __future__ import annotations

# account_features: name → DuckDB type, in the order the feature expressions produce them
# (``stillwatch.features.account.FEATURE_COLUMNS``; a test checks the two agree).
ACCOUNT_FEATURE_TYPES: dict[str, str] = {
    "exchanges": "BIGINT", "active_days": "BIGINT", "first_ts": "TIMESTAMP",
    "last_ts": "TIMESTAMP", "exchanges_per_active_day": "DOUBLE", "daily_volume_cv": "DOUBLE",
    "mean_input_tokens": "DOUBLE", "mean_output_tokens": "DOUBLE",
    "output_input_ratio": "DOUBLE", "reasoning_share": "DOUBLE", "thinking_share": "DOUBLE",
    "max_cap_share": "DOUBLE", "capped_share": "DOUBLE", "tools_share": "DOUBLE",
    "error_share": "DOUBLE",
    "apparent_utc_offset": "BIGINT", "quiet_window_share": "DOUBLE", "weekend_share": "DOUBLE",
    "hour_of_week_coverage": "DOUBLE", "duty_cycle": "DOUBLE", "longest_idle_hours": "DOUBLE",
    "interarrival_cv": "DOUBLE",
    "conversations": "BIGINT", "single_turn_share": "DOUBLE", "mean_turn_depth": "DOUBLE",
    "models_used": "BIGINT", "release_share": "DOUBLE", "first_release_lag_hours": "DOUBLE",
    "release_switch_share": "DOUBLE", "active_before_release": "BOOLEAN",
    "distinct_ips": "BIGINT", "distinct_prefixes": "BIGINT", "distinct_asns": "BIGINT",
    "distinct_user_agents": "BIGINT", "distinct_tls": "BIGINT", "distinct_countries": "BIGINT",
    "prefixes_per_active_day": "DOUBLE", "cloud_share": "DOUBLE", "hosting_share": "DOUBLE",
    "mobile_share": "DOUBLE", "isp_share": "DOUBLE", "unknown_asn_share": "DOUBLE",
    "created_at": "TIMESTAMP", "age_days_at_first_use": "DOUBLE", "lifetime_days": "DOUBLE",
    "signup_path": "VARCHAR", "verified": "BOOLEAN", "email_domain_kind": "VARCHAR",
    "same_hour_signups": "BIGINT", "same_hour_same_path": "BIGINT",
    "same_hour_same_signup_prefix": "BIGINT", "payment_accounts": "BIGINT",
    "enforced": "BOOLEAN", "linked_enforced_accounts": "BIGINT",
    "hours_after_linked_ban": "DOUBLE",
}  # fmt: skip

ACCOUNT_DAY_TYPES: dict[str, str] = {
    "day": "DATE", "exchanges": "BIGINT", "active_hours": "BIGINT", "input_tokens": "BIGINT",
    "output_tokens": "BIGINT", "reasoning_tokens": "BIGINT", "distinct_prefixes": "BIGINT",
    "distinct_models": "BIGINT", "release_exchanges": "BIGINT",
}  # fmt: skip


def _columns(types: dict[str, str]) -> str:
    return ", ".join(f'"{name}" {kind}' for name, kind in types.items())


DETECTION_DDL = [
    """CREATE TABLE IF NOT EXISTS scans (
        scan_id VARCHAR PRIMARY KEY, started_at TIMESTAMP, finished_at TIMESTAMP,
        status VARCHAR, inputs JSON, inputs_digest VARCHAR, settings JSON, detectors JSON,
        summary JSON, error VARCHAR)""",
    f"""CREATE TABLE IF NOT EXISTS account_features (
        scan_id VARCHAR, account_id VARCHAR, {_columns(ACCOUNT_FEATURE_TYPES)})""",
    f"""CREATE TABLE IF NOT EXISTS account_days (
        scan_id VARCHAR, account_id VARCHAR, {_columns(ACCOUNT_DAY_TYPES)})""",
    """CREATE TABLE IF NOT EXISTS signals (
        scan_id VARCHAR, detector VARCHAR, detector_version VARCHAR, family VARCHAR,
        entity_kind VARCHAR, account_id VARCHAR, score DOUBLE, evidence JSON)""",
    """CREATE TABLE IF NOT EXISTS link_candidates (
        scan_id VARCHAR, link_id VARCHAR, detector VARCHAR, link_type VARCHAR,
        account_id VARCHAR, weight DOUBLE, evidence JSON)""",
    """CREATE TABLE IF NOT EXISTS account_scores (
        scan_id VARCHAR, account_id VARCHAR, score DOUBLE, flagged BOOLEAN, families BIGINT,
        family_scores JSON, group_scores JSON, top_reasons JSON, group_id VARCHAR)""",
]

# Result tables written under a scan_id, in the order a scan writes them.
RESULT_TABLES = ("account_features", "account_days", "signals", "link_candidates", "account_scores")

DETECTION_ACCOUNT_ROWS = {t: "account_id" for t in RESULT_TABLES}
