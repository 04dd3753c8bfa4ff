"""Ground truth agrees with the traffic, and each scenario carries the tactics it names."""

from __future__ import annotations

import duckdb
import pytest

LOOKALIKE_KINDS = (
    "coding-fleet",
    "eval-harness",
    "app",
    "router",
    "synthetic-data-vendor",
    "power-user",
    "shared-nat",
    "cgnat",
    "abuse-ring",
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
    # proxy exits: addresses no legitimate account uses (the shared cloud egress is left out)
    pairs = con.execute("""
        WITH legit AS (SELECT DISTINCT e.ip FROM exchanges e JOIN labels_accounts l
                       USING (account_id) WHERE l.kind <> 'campaign'),
        ips AS (SELECT DISTINCT l.operator_id, e.ip FROM exchanges e
                JOIN labels_exchanges x USING (event_id) JOIN labels_accounts l USING (account_id)
                WHERE e.ip NOT IN (SELECT ip FROM legit))
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
    # each kind shows the behaviour that makes it a look-alike
    per_kind = dict(
        con.execute(
            """
        WITH acct AS (
            SELECT l.kind, e.account_id, count(*) AS n,
                   count(DISTINCT end_user_id) AS end_users,
                   count(DISTINCT temperature) AS temperatures,
                   max(turn_index) AS depth
            FROM exchanges e JOIN labels_accounts l USING (account_id) GROUP BY ALL
        ),
        shared AS (  -- accounts on the busiest address of each kind
            SELECT kind, max(k) AS on_one_ip FROM (
                SELECT l.kind, e.ip, count(DISTINCT e.account_id) AS k FROM exchanges e
                JOIN labels_accounts l USING (account_id) GROUP BY ALL) GROUP BY 1
        ),
        reg AS (
            SELECT l.kind, max(c) AS same_card, avg(a.verified::INT) AS verified,
                   avg((b.account_id IS NOT NULL)::INT) AS banned
            FROM accounts a JOIN labels_accounts l USING (account_id)
            LEFT JOIN (SELECT payment_fingerprint, count(*) AS c FROM accounts
                       GROUP BY 1) p USING (payment_fingerprint)
            LEFT JOIN (SELECT DISTINCT account_id FROM enforcements WHERE action = 'ban') b
                 USING (account_id)
            GROUP BY 1
        )
        SELECT kind, {
            'exchanges': median(n), 'end_users': max(end_users),
            'temperatures': max(temperatures), 'depth': median(depth),
            'on_one_ip': any_value(on_one_ip), 'same_card': any_value(same_card),
            'verified': any_value(verified), 'banned': any_value(banned)}
        FROM acct JOIN shared USING (kind) JOIN reg USING (kind) GROUP BY kind
        """
        ).fetchall()
    )
    ordinary = per_kind["benign"]
    k = {name.split(":")[1]: v for name, v in per_kind.items() if ":" in name}
    assert k["coding-fleet"]["same_card"] >= 3 and k["coding-fleet"]["depth"] >= 2
    assert k["eval-harness"]["temperatures"] >= 3  # retries at several temperatures
    assert k["app"]["end_users"] >= 30 and k["router"]["end_users"] >= 30
    assert ordinary["end_users"] == 0
    assert k["synthetic-data-vendor"]["exchanges"] > 5 * ordinary["exchanges"]
    assert k["power-user"]["exchanges"] > 3 * ordinary["exchanges"]
    assert k["shared-nat"]["on_one_ip"] >= 8 and k["cgnat"]["on_one_ip"] >= 20
    ring = k["abuse-ring"]  # young fraud: shared cards, unverified, banned often
    assert ring["same_card"] >= 3 and ring["verified"] < 0.1 and ring["banned"] > 0.3


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
    from stillwatch.sim.phrasing import VOCAB

    folder, _ = dataset("low-and-slow", 1)
    con = _con(folder)
    # any phrasing the grammar has for reasoning or its steps (operators draw their own)
    words = {o.lower() for k in ("reasoning", "stepwise", "noskip", "zh_reason") for o in VOCAB[k]}
    pattern = "|".join(sorted(w.replace("-", "\\-").replace("'", "''") for w in words))
    cot = _one(
        con,
        f"""SELECT avg(regexp_matches(lower(prompt), '{pattern}')::INT)
            FROM exchanges JOIN labels_exchanges USING (event_id)""",
    )
    # few frames swept over many slots: most prompts open or close like 100 others
    framed = _one(
        con,
        """
        WITH c AS (SELECT prompt FROM exchanges JOIN labels_exchanges USING (event_id)),
        p AS (SELECT left(prompt, 20) AS k, count(*) AS n FROM c GROUP BY 1),
        s AS (SELECT right(prompt, 20) AS k, count(*) AS n FROM c GROUP BY 1)
        SELECT avg((coalesce(p.n, 0) >= 100 OR coalesce(s.n, 0) >= 100)::INT)
        FROM c LEFT JOIN p ON p.k = left(c.prompt, 20) LEFT JOIN s ON s.k = right(c.prompt, 20)""",
    )
    assert cot > 0.2  # reasoning elicitation
    assert framed > 0.6


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


def test_enforcement_happens_to_everyone_with_one_vocabulary(dataset) -> None:
    folder, _ = dataset("hydra-loud", 1)
    rows = (
        _con(folder)
        .execute(
            """SELECT action, reason, l.kind = 'campaign' AS campaign, count(DISTINCT account_id)
           FROM enforcements JOIN labels_accounts l USING (account_id) GROUP BY ALL"""
        )
        .fetchall()
    )
    by = {(a, r, c): n for a, r, c, n in rows}
    for action in ("ban", "suspend", "challenge", "throttle"):
        assert sum(n for (a, _, c), n in by.items() if a == action and not c) >= 10, action
    # every reason given to a campaign account is given to legitimate accounts too
    campaign_reasons = {(a, r) for (a, r, c) in by if c}
    legit_reasons = {(a, r) for (a, r, c) in by if not c}
    assert campaign_reasons and campaign_reasons <= legit_reasons
    # some campaign accounts are never enforced
    never = _one(
        _con(folder),
        """SELECT count(*) FROM labels_accounts WHERE kind = 'campaign'
           AND account_id NOT IN (SELECT account_id FROM enforcements)""",
    )
    assert never > 0


def test_one_sub_minute_clock_for_everyone(dataset) -> None:
    """Conversations open anywhere in their minute, campaigns' as everyone's."""
    folder, _ = dataset("low-and-slow", 1)
    shares = dict(
        _con(folder)
        .execute(
            """SELECT l.kind = 'campaign', avg((second(ts) < 45)::INT) FROM exchanges
               JOIN labels_accounts l USING (account_id) WHERE turn_index = 0 GROUP BY 1"""
        )
        .fetchall()
    )
    assert abs(shares[True] - 0.75) < 0.03 and abs(shares[False] - 0.75) < 0.03, shares


def test_legitimate_accounts_speak_every_family_at_its_declared_share(dataset) -> None:
    import json

    from stillwatch.sim.scenario import LEGIT_FAMILY_SHARES

    folder, _ = dataset("low-and-slow", 1)
    measured = json.loads((folder / "manifest.json").read_text())["legitimate_families"]
    for family, target in LEGIT_FAMILY_SHARES.items():
        share = measured[family]["legitimate_share"]
        assert 0.6 * target <= share <= 1.6 * target, (family, share, target)
