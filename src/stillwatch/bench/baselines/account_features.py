"""Per-account behaviour and registration features, one row per account seen.

Read from the canonical tables only. Counts are log-scaled (their tails are heavy); a
feature an account lacks (no accounts row, no tokens logged) is 0.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from stillwatch.bench.baselines.traffic_sql import ip_prefix, prompt_key
from stillwatch.bench.dataset import Dataset

FEATURES_SQL = f"""
WITH x AS (
    SELECT account_id, ts, hour(ts) AS hour, CAST(ts AS DATE) AS day,
           {ip_prefix()} AS prefix, asn, user_agent, tls_fingerprint, model,
           conversation_id, turn_index, input_tokens, output_tokens, reasoning_tokens,
           tools_count, thinking, status, temperature, {prompt_key()} AS prompt_key,
           length(prompt) AS prompt_chars
    FROM exchanges
),
traffic AS (
    SELECT account_id,
           ln(1 + count(*)) AS log_exchanges,
           ln(1 + count(DISTINCT day)) AS log_active_days,
           ln(1 + count(*) / count(DISTINCT day)) AS log_exchanges_per_day,
           count(DISTINCT hour) / 24.0 AS hours_active_share,
           coalesce(entropy(hour), 0) AS hour_entropy,
           ln(1 + count(DISTINCT prefix)) AS log_ip_prefixes,
           ln(1 + count(DISTINCT asn)) AS log_asns,
           ln(1 + count(DISTINCT user_agent)) AS log_user_agents,
           ln(1 + count(DISTINCT tls_fingerprint)) AS log_fingerprints,
           ln(1 + count(DISTINCT model)) AS log_models,
           ln(1 + coalesce(avg(input_tokens), 0)) AS log_input_tokens,
           ln(1 + coalesce(avg(output_tokens), 0)) AS log_output_tokens,
           ln(1 + coalesce(avg(reasoning_tokens), 0)) AS log_reasoning_tokens,
           coalesce(avg(tools_count), 0) AS tools_per_exchange,
           coalesce(avg(CAST(thinking AS INTEGER)), 0) AS thinking_share,
           coalesce(avg(CAST(status <> 'ok' AS INTEGER)), 0) AS error_share,
           coalesce(avg(turn_index), 0) AS mean_turn_index,
           count(DISTINCT conversation_id) / count(*) AS conversations_per_exchange,
           count(DISTINCT prompt_key) / count(*) AS distinct_prompt_share,
           ln(1 + coalesce(avg(prompt_chars), 0)) AS log_prompt_chars,
           coalesce(avg(temperature), 0) AS mean_temperature,
           coalesce(stddev_pop(temperature), 0) AS temperature_spread,
           min(ts) AS first_ts
    FROM x GROUP BY account_id
),
shared AS (
    SELECT account_id,
           count(*) OVER (PARTITION BY payment_fingerprint) AS card_accounts,
           count(*) OVER (PARTITION BY {ip_prefix("signup_ip", None)}) AS signup_net_accounts,
           count(*) OVER (PARTITION BY date_trunc('hour', created_at)) AS same_hour_signups,
           payment_fingerprint IS NULL AS no_card, signup_ip IS NULL AS no_signup_ip,
           created_at IS NULL AS no_created_at,
           created_at, verified
    FROM accounts
)
SELECT s.row AS row, t.* EXCLUDE (account_id, first_ts),
       CASE WHEN a.no_card THEN 0 ELSE ln(a.card_accounts) END AS log_card_accounts,
       CASE WHEN a.no_signup_ip THEN 0 ELSE ln(a.signup_net_accounts) END
           AS log_signup_net_accounts,
       CASE WHEN a.no_created_at THEN 0 ELSE ln(a.same_hour_signups) END
           AS log_same_hour_signups,
       coalesce(ln(1 + greatest(epoch(t.first_ts - a.created_at), 0) / 86400.0), 0)
           AS log_age_days_at_first_exchange,
       coalesce(CAST(a.verified AS INTEGER), 0) AS verified
FROM _seen s
LEFT JOIN traffic t USING (account_id)
LEFT JOIN shared a USING (account_id)
ORDER BY s.row
"""


def account_features(dataset: Dataset, account_ids: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """A float matrix (accounts in ``account_ids`` order × features) and the feature names."""
    con = dataset.con
    seen = pa.table({"account_id": account_ids.astype(str), "row": np.arange(len(account_ids))})
    con.register("_seen", seen)
    try:
        table = con.sql(FEATURES_SQL).to_arrow_table()
    finally:
        con.unregister("_seen")
    names = [c for c in table.column_names if c != "row"]
    matrix = (
        np.column_stack(
            [
                np.nan_to_num(
                    table.column(c).to_numpy(zero_copy_only=False).astype(np.float64), nan=0.0
                )
                for c in names
            ]
        )
        if names
        else np.zeros((len(account_ids), 0))
    )
    return matrix, names
