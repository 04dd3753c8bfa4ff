"""Measures for the realism guard: how well ONE column or ONE simple statistic finds campaigns.

Per account: volume, rates, address diversity, ASN-kind shares, client, token shapes, caps,
thinking and reasoning-phrase shares, turn depth, night share, age, registration fields,
exact-duplicate share, and every canonical column on its own (modal value or mean).
Categorical values are scored by cross-fitted target encoding (a value's campaign rate learned
on the other folds), so a value unique to one account cannot score itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve

from stillwatch.schema import ACCOUNTS, EXCHANGES
from stillwatch.sim.network import ASNS, COUNTRY_TZ, KINDS
from stillwatch.sim.tactics import COT_PATTERN

GUARD_SEEDS = (1, 2)
SKIP_COLUMNS = {
    "event_id",
    "ts",
    "account_id",
    "prompt",
    "prompt_sha256",
    "response",
    "ip_hash",
    "conversation_id",
    "api_key_id",
    "end_user_id",
    "ip",
}


@dataclass
class Features:
    account_id: np.ndarray
    y: np.ndarray  # 1 = campaign account
    kind: np.ndarray
    numeric: dict[str, np.ndarray]
    categorical: dict[str, np.ndarray]


def _con(folder: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for name in ("exchanges", "accounts", "labels_accounts"):
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{folder}/{name}.parquet')")
    asn_kind = ", ".join(f"({a}, '{k}')" for a, k, _ in ASNS)
    con.execute(
        f"CREATE TABLE asn_kind(asn BIGINT, kind VARCHAR); INSERT INTO asn_kind VALUES {asn_kind}"
    )
    tz = ", ".join(f"('{c}', {t})" for c, t in COUNTRY_TZ.items())
    con.execute(f"CREATE TABLE tz(country VARCHAR, tz DOUBLE); INSERT INTO tz VALUES {tz}")
    con.create_function(
        "cot", lambda s: bool(s) and bool(COT_PATTERN.search(s)), ["VARCHAR"], "BOOLEAN"
    )
    return con


def account_features(folder: Path) -> Features:
    con = _con(folder)
    kind_share = ", ".join(f"avg((k.kind = '{k}')::INT) AS share_{k}" for k in KINDS)
    q = f"""
    WITH dup AS (SELECT prompt_sha256, count(*) AS n FROM exchanges GROUP BY 1),
    x AS (
      SELECT e.*, k.kind AS asn_kind, d.n AS dup_n,
             (hour(e.ts) + coalesce(tz.tz, 0) + 24) % 24 AS local_hour
      FROM exchanges e LEFT JOIN asn_kind k USING (asn)
      LEFT JOIN dup d USING (prompt_sha256)
      LEFT JOIN accounts a USING (account_id) LEFT JOIN tz ON tz.country = a.country
    )
    SELECT x.account_id,
      count(*) AS volume,
      count(*) / count(DISTINCT date_trunc('day', ts)) AS rate_per_active_day,
      count(*) / (1 + date_diff('second', min(ts), max(ts)) / 86400.0) AS rate_over_span,
      count(DISTINCT ip) AS distinct_ips,
      count(DISTINCT regexp_extract(ip, '^(\\d+\\.\\d+\\.\\d+)\\.')) AS distinct_prefixes,
      count(DISTINCT ip) / count(*) AS ips_per_exchange,
      count(DISTINCT asn) AS distinct_asns,
      {kind_share.replace("k.kind", "asn_kind")},
      count(DISTINCT user_agent) AS distinct_user_agents,
      avg(input_tokens) AS mean_input_tokens,
      avg(output_tokens) AS mean_output_tokens,
      stddev_pop(output_tokens) AS sd_output_tokens,
      avg(reasoning_tokens) AS mean_reasoning_tokens,
      median(input_tokens) AS median_input_tokens,
      avg(output_tokens / greatest(input_tokens, 1)) AS output_input_ratio,
      avg(max_tokens) AS mean_max_tokens,
      avg(thinking::INT) AS thinking_share,
      avg(cot(prompt)::INT) AS cot_share,
      avg(turn_index) AS mean_turn_depth,
      max(turn_index) AS max_turn_depth,
      count(DISTINCT conversation_id) / count(*) AS conversations_per_exchange,
      avg((local_hour < 6)::INT) AS night_share,
      avg((hour(ts) < 6)::INT) AS utc_night_share,
      avg((dayofweek(ts) IN (0, 6))::INT) AS weekend_share,
      avg((dup_n > 1)::INT) AS exact_duplicate_share,
      avg(coalesce(temperature, -1)) AS mean_temperature,
      avg(tools_count) AS mean_tools,
      avg((status <> 'ok')::INT) AS error_share,
      avg(latency_ms) AS mean_latency,
      count(DISTINCT api_key_id) AS distinct_keys,
      count(DISTINCT end_user_id) AS distinct_end_users,
      avg(length(prompt)) AS mean_prompt_chars,
      min(ts) AS first_ts
    FROM x GROUP BY 1
    """
    feats = con.sql(q).to_arrow_table()
    modal_cols = [
        c.name
        for c in EXCHANGES.columns
        if c.name not in SKIP_COLUMNS
        and (c.kind in ("string", "bool", "ip") or c.name in ("max_tokens", "tools_count", "asn"))
    ]
    modal = ", ".join(f"mode({c})::VARCHAR AS modal_{c}" for c in modal_cols)
    modal_t = con.sql(f"SELECT account_id, {modal} FROM exchanges GROUP BY 1").to_arrow_table()
    acc_cols = [c for c in ACCOUNTS.names if c not in ("account_id", "created_at")]
    acc = con.sql(
        f"SELECT account_id, created_at, {', '.join(f'{c}::VARCHAR AS acct_{c}' for c in acc_cols)}, "
        "l.kind AS label_kind FROM accounts a JOIN labels_accounts l USING (account_id)"
    ).to_arrow_table()
    ids = feats.column("account_id").to_numpy(zero_copy_only=False)
    order = {a: i for i, a in enumerate(ids)}

    def aligned(table: object, col: str) -> np.ndarray:
        t = table  # type: ignore[assignment]
        vals = t.column(col).to_numpy(zero_copy_only=False)  # type: ignore[attr-defined]
        keys = t.column("account_id").to_numpy(zero_copy_only=False)  # type: ignore[attr-defined]
        out = np.empty(len(ids), dtype=vals.dtype if vals.dtype != object else object)
        for k, v in zip(keys, vals, strict=True):
            if k in order:
                out[order[k]] = v
        return out

    numeric = {
        c: np.nan_to_num(feats.column(c).to_numpy(zero_copy_only=False).astype(float))
        for c in feats.column_names
        if c not in ("account_id", "first_ts")
    }
    created = aligned(acc, "created_at").astype("datetime64[ms]").astype(np.int64)
    first = (
        feats.column("first_ts")
        .to_numpy(zero_copy_only=False)
        .astype("datetime64[ms]")
        .astype(np.int64)
    )
    numeric["account_age_days"] = (first - created) / 86_400_000
    numeric["created_at"] = created.astype(float)
    numeric["first_seen"] = first.astype(float)
    categorical = {
        c: aligned(modal_t, c).astype(str) for c in modal_t.column_names if c != "account_id"
    }
    for c in acc_cols:
        categorical[f"acct_{c}"] = aligned(acc, f"acct_{c}").astype(str)
    kind = aligned(acc, "label_kind").astype(str)
    return Features(ids, (kind == "campaign").astype(int), kind, numeric, categorical)


def precision_at_recall(y: np.ndarray, score: np.ndarray, recall: float = 0.9) -> float:
    p, r, _ = precision_recall_curve(y, score)
    ok = r >= recall
    return float(p[ok].max()) if ok.any() else 0.0


def _target_encode(y: np.ndarray, values: np.ndarray, folds: int = 5, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    fold = rng.integers(0, folds, len(y))
    prior = y.mean()
    out = np.full(len(y), prior, dtype=float)
    for f in range(folds):
        train, test = fold != f, fold == f
        cats, inv = np.unique(values[train], return_inverse=True)
        pos = np.bincount(inv, weights=y[train], minlength=len(cats))
        cnt = np.bincount(inv, minlength=len(cats))
        rate = dict(zip(cats, (pos + prior) / (cnt + 1), strict=True))
        out[test] = [rate.get(v, prior) for v in values[test]]
    return out


def single_signal_scores(f: Features) -> dict[str, tuple[float, float]]:
    """(PR-AUC, precision at 90% recall) of every single signal, best direction for numerics."""
    out: dict[str, tuple[float, float]] = {}
    for name, x in f.numeric.items():
        best = max(
            ((average_precision_score(f.y, s), precision_at_recall(f.y, s)) for s in (x, -x)),
            key=lambda t: t[0],
        )
        out[name] = best
    for name, v in f.categorical.items():
        s = _target_encode(f.y, v)
        out[name] = (average_precision_score(f.y, s), precision_at_recall(f.y, s))
    return out


def link_groupings(folder: Path, f: Features) -> dict[str, tuple[float, float]]:
    """(precision, recall) of 'accounts that share a value of this link with another account'."""
    con = _con(folder)
    queries = {
        "payment": "SELECT account_id, payment_fingerprint AS v FROM accounts WHERE payment_fingerprint IS NOT NULL",
        "email_domain": "SELECT account_id, email_domain AS v FROM accounts",
        "prefix24": "SELECT DISTINCT account_id, regexp_extract(ip, '^(\\d+\\.\\d+\\.\\d+)\\.') AS v FROM exchanges",
        "tls_fingerprint": "SELECT DISTINCT account_id, tls_fingerprint AS v FROM exchanges",
        "prompt_skeleton": (
            "SELECT DISTINCT account_id, left(regexp_replace(prompt, '[0-9]+', '0', 'g'), 40) || '|' || "
            "right(regexp_replace(prompt, '[0-9]+', '0', 'g'), 40) AS v FROM exchanges WHERE prompt IS NOT NULL"
        ),
        "same_minute": "SELECT DISTINCT account_id, epoch(date_trunc('minute', ts))::VARCHAR AS v FROM exchanges",
    }
    index = {a: i for i, a in enumerate(f.account_id)}
    out = {}
    for name, sql in queries.items():
        # a value links accounts when 2..max_share accounts hold it; hubs are tried as well
        for cap in (None, 5, 20, 50):
            having = "count(DISTINCT account_id) >= 2" + (
                f" AND count(DISTINCT account_id) <= {cap}" if cap else ""
            )
            linked = con.execute(
                f"WITH t AS ({sql}) SELECT DISTINCT account_id FROM t WHERE v IN "
                f"(SELECT v FROM t GROUP BY v HAVING {having})"
            ).fetchall()
            pred = np.zeros(len(f.y), dtype=bool)
            for (a,) in linked:
                if a in index:
                    pred[index[a]] = True
            tp = int((pred & (f.y == 1)).sum())
            precision = tp / max(1, int(pred.sum()))
            recall = tp / max(1, int(f.y.sum()))
            out[f"{name}{'' if cap is None else f'<= {cap}'}"] = (precision, recall)
    return out
