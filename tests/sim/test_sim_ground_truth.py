"""Ground truth agrees with the traffic, and each scenario carries the tactics it names."""

from __future__ import annotations

import duckdb
import pytest

from stillwatch.sim.population import __doc__ as population_doc

LOOKALIKE_KINDS = (
    "coding-fleet",
    "eval-harness",
    "app",
    "router",
    "synthetic-data-vendor",
    "power-user",
    "shared-nat",
    "cgnat",
)
FAST_DAYS = 7  # scenario-specific checks need only a week


def _con(folder) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for name in ("exchanges", "accounts", "enforcements", "labels_accounts", "labels_exchanges"):
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{folder}/{name}.parquet')")
    return con


def _one(con: duckdb.DuckDBPyConnection, sql: str):
    row = con.execute(sql).fetchone()
    assert row is not None
    return row[0] if len(row) == 1 else row


@pytest.mark.parametrize("scenario", ["low-and-slow", "proxy-mixed", "multi-operator"])
def test_labels_are_consistent_with_traffic(dataset, scenario) -> None:
    folder, summary = dataset(scenario, 1, None if scenario == "low-and-slow" else FAST_DAYS)
    con = _con(folder)
    # every account with traffic has one account row and one label row, and nothing else does
    assert _one(con, "SELECT count(DISTINCT account_id) FROM exchanges") == summary["accounts"]
    assert _one(con, "SELECT count(*) FROM accounts") == summary["accounts"]
    assert (
        _one(con, "SELECT count(*) FROM labels_accounts l SEMI JOIN accounts USING (account_id)")
        == summary["accounts"]
    )
    # campaign accounts have an operator and campaign; legitimate ones have neither
    assert (
        _one(
            con,
            """SELECT count(*) FROM labels_accounts WHERE (kind = 'campaign') <>
                        (operator_id IS NOT NULL AND campaign_id IS NOT NULL)""",
        )
        == 0
    )
    assert (
        _one(
            con,
            "SELECT count(*) FROM labels_accounts WHERE kind <> 'campaign' AND campaign_id IS NOT NULL",
        )
        == 0
    )
    kinds = {k for (k,) in con.execute("SELECT DISTINCT kind FROM labels_accounts").fetchall()}
    assert kinds <= {"campaign", "benign", *(f"benign:{k}" for k in LOOKALIKE_KINDS)}
    # labelled exchanges exist, belong to accounts of that same campaign
    assert _one(con, "SELECT count(*) FROM labels_exchanges") == summary["campaign_exchanges"] > 0
    assert (
        _one(
            con,
            """SELECT count(*) FROM labels_exchanges x LEFT JOIN exchanges e USING (event_id)
                        LEFT JOIN labels_accounts l ON l.account_id = e.account_id
                        WHERE l.campaign_id IS DISTINCT FROM x.campaign_id""",
        )
        == 0
    )
    # no exchange of a banned account after its ban
    assert (
        _one(
            con,
            """SELECT count(*) FROM exchanges e JOIN enforcements b USING (account_id)
                        WHERE b.action = 'ban' AND e.ts > b.ts""",
        )
        == 0
    )
    # campaign accounts were registered before they were used
    assert (
        _one(
            con,
            """SELECT count(*) FROM accounts a JOIN
                        (SELECT account_id, min(ts) AS first FROM exchanges GROUP BY 1) f USING (account_id)
                        WHERE a.created_at > f.first""",
        )
        == 0
    )


def test_hydra_carries_resold_legitimate_traffic(dataset) -> None:
    folder, _ = dataset("proxy-mixed", 1, FAST_DAYS)
    con = _con(folder)
    share = _one(
        con,
        """SELECT avg((x.event_id IS NOT NULL)::INT) FROM exchanges e
                         JOIN labels_accounts l USING (account_id)
                         LEFT JOIN labels_exchanges x USING (event_id) WHERE l.kind = 'campaign'""",
    )
    assert 0.35 < share < 0.65
    # the resold rows come with end users, on the same accounts, keys and addresses
    assert (
        _one(
            con,
            """SELECT count(DISTINCT end_user_id) FROM exchanges e JOIN labels_accounts l
                        USING (account_id) WHERE l.kind = 'campaign'""",
        )
        > 100
    )


def test_hydra_loud_proportions_follow_the_report(dataset) -> None:
    folder, _ = dataset("hydra-loud", 1)
    sizes = sorted(
        n
        for (n,) in _con(folder)
        .execute("SELECT count(*) FROM labels_exchanges GROUP BY campaign_id")
        .fetchall()
    )
    assert len(sizes) == 3
    # about 1 : 23 : 87
    assert 12 <= sizes[1] / sizes[0] <= 40 and 50 <= sizes[2] / sizes[0] <= 150
    assert 2.5 <= sizes[2] / sizes[1] <= 6


def test_release_pivot_moves_half_the_campaign_within_a_day(dataset) -> None:
    folder, _ = dataset("release-pivot", 1)
    con = _con(folder)
    release = _one(con, "SELECT min(ts) FROM exchanges WHERE model = 'atlas-4'")
    camp = _one(
        con,
        f"""SELECT avg((model = 'atlas-4')::INT) FROM exchanges e JOIN labels_exchanges USING (event_id)
                        WHERE e.ts > TIMESTAMPTZ '{release}' + INTERVAL 1 DAY""",
    )
    assert 0.35 < camp < 0.65
    early_legit = _one(
        con,
        f"""SELECT count(DISTINCT account_id) FROM exchanges e JOIN labels_accounts l
                        USING (account_id) WHERE l.kind <> 'campaign' AND model = 'atlas-4'
                        AND e.ts < TIMESTAMPTZ '{release}' + INTERVAL 1 DAY""",
    )
    assert early_legit >= 30  # legitimate early adopters switch within a day too


def test_two_operators_share_a_proxy_provider(dataset) -> None:
    folder, _ = dataset("multi-operator", 1, FAST_DAYS)
    con = _con(folder)
    pairs = con.execute("""
        WITH ips AS (SELECT DISTINCT l.operator_id, e.ip FROM exchanges e
                     JOIN labels_exchanges x USING (event_id) JOIN labels_accounts l USING (account_id)
                     JOIN (SELECT asn FROM exchanges GROUP BY asn) USING (asn))
        SELECT a.operator_id, b.operator_id, count(*) FROM ips a JOIN ips b
        ON a.ip = b.ip AND a.operator_id < b.operator_id GROUP BY 1, 2 HAVING count(*) >= 10""").fetchall()
    assert _one(con, "SELECT count(DISTINCT operator_id) FROM labels_accounts") == 4
    assert len(pairs) == 1, pairs


def test_look_alikes_only_has_no_campaign_and_every_kind(dataset) -> None:
    folder, summary = dataset("look-alikes-only", 1)
    con = _con(folder)
    assert summary["campaign_accounts"] == 0
    assert _one(con, "SELECT count(*) FROM labels_exchanges") == 0
    kinds = {k for (k,) in con.execute("SELECT DISTINCT kind FROM labels_accounts").fetchall()}
    assert {f"benign:{k}" for k in LOOKALIKE_KINDS} <= kinds
    assert all(k in (population_doc or "") for k in LOOKALIKE_KINDS)


@pytest.mark.parametrize(
    "scenario", ["hydra-loud", "proxy-mixed", "release-pivot", "multi-operator"]
)
def test_every_scenario_holds_every_look_alike_kind(dataset, scenario) -> None:
    folder, _ = dataset(
        scenario, 1, None if scenario in ("release-pivot", "hydra-loud") else FAST_DAYS
    )
    kinds = {
        k for (k,) in _con(folder).execute("SELECT DISTINCT kind FROM labels_accounts").fetchall()
    }
    assert {f"benign:{k}" for k in LOOKALIKE_KINDS} <= kinds


def test_legitimate_traffic_is_multilingual_and_multi_turn(dataset) -> None:
    folder, _ = dataset("low-and-slow", 1)
    con = _con(folder)
    zh, deep, apps_users = _one(
        con,
        """
        SELECT avg(regexp_matches(prompt, '[\\x{4e00}-\\x{9fff}]{3,}')::INT),
               avg((turn_index >= 2)::INT),
               count(DISTINCT end_user_id)
        FROM exchanges e JOIN labels_accounts l USING (account_id) WHERE l.kind <> 'campaign'""",
    )
    assert zh >= 0.05
    assert deep > 0.1
    assert apps_users > 1000


def test_campaign_prompts_carry_the_tactics(dataset) -> None:
    folder, _ = dataset("low-and-slow", 1)
    con = _con(folder)
    cot, lead = _one(
        con,
        """
        SELECT avg(regexp_matches(prompt, 'step by step|reasoning|thought process', 'i')::INT),
               count(DISTINCT left(prompt, 20)) / count(*)
        FROM exchanges JOIN labels_exchanges USING (event_id)""",
    )
    assert cot > 0.2  # reasoning elicitation
    assert lead < 0.05  # few frames, swept over many slots


def test_unrelated_legitimate_accounts_rarely_share_exact_text(dataset) -> None:
    """Real users share short follow-ups ("continue") and popular questions, little else."""
    folder, _ = dataset("low-and-slow", 1)
    shared, short = _one(
        _con(folder),
        """
        WITH x AS (SELECT e.prompt_sha256, e.prompt, e.account_id FROM exchanges e
                   JOIN labels_accounts l USING (account_id)
                   WHERE l.kind IN ('benign', 'benign:cgnat', 'benign:power-user', 'benign:shared-nat')),
             s AS (SELECT prompt_sha256, count(DISTINCT account_id) AS n FROM x GROUP BY 1)
        SELECT avg((n > 1)::INT), median(length(prompt)) FILTER (WHERE n > 1)
        FROM x JOIN s USING (prompt_sha256)""",
    )
    assert 0.01 < shared < 0.12
    assert short < 60
