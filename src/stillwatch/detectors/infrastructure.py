"""Shared infrastructure weighted by rarity.

For each attribute type (IP prefix, ASN of a non-ISP kind, payment fingerprint, TLS
fingerprint, user agent, non-public e-mail domain, signup network) every value held by two
or more accounts ties them. A tie is worth what the shared value is surprising:

- *inverse of how many share it*: ``1 - log(holders) / log(accounts)``, so a value two
  accounts hold is worth nearly 1 and one the whole population holds is worth 0;
- *against what the type usually shows*: times ``1 - usual``, where ``usual`` is the share of
  accounts that share some value of that type at all (user agents are shared by nearly every
  account, so sharing one is worth little; payment instruments almost never are);
- *hubs capped*: a value held by more than ``max_group`` accounts (a carrier's CGNAT address,
  a popular SDK build) ties nobody — unless an account owns it (``OWNED_TYPES``: a payment
  instrument, a non-public e-mail domain). No carrier or SDK hands those out; an instrument
  a thousand accounts pay with is an operator's pool (or one organization's, which its
  accounts' profile shows). Its holders are tied sparsely: each to the next
  ``hub_neighbours`` around a circle in a pseudo-random order, so a pool of 2,000 accounts
  gives 10,000 pairs, not two million.

An account's *tie strength* is the sum of the weights of the values it shares, each value
counted once however many accounts hold it (so a hub can never outweigh one rare shared
value). Its score is how far that exceeds the median account's, in units of
``full_strength`` (two rare shared values above the median, or about eight busy shared /24s,
score 1). A pair's link weight adds the weights of every value the two share, squashed by
``1 - exp(-sum)``: one rare shared card, or several shared proxy ranges, tie strongly. Pairs go
to the link stage, ``top_k`` per account.

Catches: payment instruments reused across accounts, shared proxy ranges and fingerprints,
throwaway e-mail domains. Known false positives: one organization's accounts (enterprise
fleets, a university lab) share a card, an egress range and a domain legitimately; the
evidence names the shared values so an analyst can see it is one org.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import ibis
import numpy as np

from stillwatch.detectors.base import (
    DetectorOutput,
    LinkColumns,
    ScanContext,
    check_param,
    connection,
    rounded,
    temp_table,
)
from stillwatch.detectors.pairs import top_k_mask
from stillwatch.features.infrastructure import network_days
from stillwatch.features.registration import registrations

NON_ISP_KINDS = ("cloud", "hosting", "unknown")
# Values an account owns: never a hub, however many accounts hold one (see above).
OWNED_TYPES = ("payment", "email_domain")


class SharedInfrastructure:
    id = "infrastructure.shared-rare"
    version = "3"
    family = "infrastructure"
    requires = (
        "exchanges.ip|exchanges.ip_hash|exchanges.asn|exchanges.tls_fingerprint"
        "|exchanges.user_agent|accounts.payment_fingerprint|accounts.email_domain"
        "|accounts.signup_ip",
    )
    evidence_keys = ("shared", "types", "partners", "strong_partners", "tie_strength",
                     "usual_tie_strength")  # fmt: skip
    description = "accounts tied by rare shared infrastructure (rarity-weighted, hubs capped)"
    false_positives = "one organization's accounts: enterprise fleets, a lab behind one NAT"
    hub_neighbours = 5

    def __init__(
        self,
        max_group: int = 200,
        full_strength: float = 2.0,
        top_k: int = 20,
        min_weight: float = 0.05,
    ) -> None:
        check_param("max_group", max_group, 2, 1_000_000, integer=True)
        check_param("full_strength", full_strength, 0.01, 1000)
        check_param("top_k", top_k, 1, 10_000, integer=True)
        check_param("min_weight", min_weight, 0, 1)
        self.min_weight = min_weight
        self.max_group = max_group
        self.full_strength = full_strength
        self.top_k = top_k

    def membership_parts(self, ctx: ScanContext) -> list[tuple[str, Any]]:
        """(type, Ibis table of account_id, value) for each attribute type."""
        x = network_days(ctx.sources)
        parts = []
        prefix = x.filter(x.prefix.notnull()).select("account_id", value=x.prefix)
        parts.append(("ip_prefix", prefix))
        asn = x.filter(x.asn.notnull() & x.asn_kind.isin(NON_ISP_KINDS))
        parts.append(("asn", asn.select("account_id", value=asn.asn.cast("string"))))
        for col, kind in (("tls_fingerprint", "tls_fingerprint"), ("user_agent", "user_agent")):
            t = x.filter(x[col].notnull())
            parts.append((kind, t.select("account_id", value=t[col])))
        reg = registrations(ctx.sources)
        pay = reg.filter(reg.payment_fingerprint.notnull())
        parts.append(("payment", pay.select("account_id", value=pay.payment_fingerprint)))
        mail = reg.filter(reg.email_domain_kind == "other")
        parts.append(("email_domain", mail.select("account_id", value=mail.email_domain.lower())))
        net = reg.filter(reg.signup_prefix.notnull())
        parts.append(("signup_prefix", net.select("account_id", value=net.signup_prefix)))
        return parts

    def run(self, ctx: ScanContext) -> DetectorOutput:
        """Counted in the backend (DuckDB): memberships, holders, every pair of holders of a
        shared value and its strength. A large store's pairs run to hundreds of millions;
        only per-account results and the strongest pairs come back to Python."""
        out = DetectorOutput()
        con = connection(ctx)
        parts = [
            t.select("account_id", value=t.value.cast("string"), type=ibis.literal(kind)).distinct()
            for kind, t in self.membership_parts(ctx)
        ]
        temp_table(ctx, "_sw_infra_m", ibis.union(*parts))
        # how many accounts hold each value: counted once, read twice below
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _sw_infra_m AS SELECT *, "
            "count(*) OVER (PARTITION BY type, value) AS holders FROM _sw_infra_m"
        )
        try:
            return self._scored(con, out, len(ctx.features))
        finally:
            for t in ("_sw_infra_m", "_sw_infra_shared", "_sw_infra_pairs"):
                con.execute(f"DROP TABLE IF EXISTS {t}")

    def _scored(self, con: Any, out: DetectorOutput, n_scored: int) -> DetectorOutput:
        n_accounts = max(n_scored, 3)
        usual = dict(
            con.execute(
                """
                SELECT type, avg(CASE WHEN m >= 2 THEN 1.0 ELSE 0.0 END) FROM (
                    SELECT type, account_id, max(holders) AS m FROM _sw_infra_m GROUP BY ALL
                ) GROUP BY type
                """
            ).fetchall()
        )
        if not usual:
            return out
        usual_sql = " ".join(f"WHEN '{k}' THEN {float(v)!r}" for k, v in usual.items())
        owned = "(" + ", ".join(f"'{t}'" for t in OWNED_TYPES) + ")"
        mg = int(self.max_group)
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _sw_infra_shared AS
            SELECT * FROM (
                SELECT account_id, type, value, holders,
                       greatest(0.0, least(1.0, 1 - ln(holders) / ln({n_accounts})))
                       * (1 - CASE type {usual_sql} END) AS weight
                FROM _sw_infra_m
                WHERE holders >= 2 AND (holders <= {mg} OR type IN {owned})
            ) WHERE weight >= {float(self.min_weight)!r}
            """
        )
        # Pair strength: surprise adds up over every value the two share (Adamic-Adar-like),
        # squashed to [0, 1): one rare shared card, or several shared proxy ranges. The pair's
        # strongest value (ties: type, then value) names it. Sums are rounded: DuckDB adds in
        # whatever order its threads finish, and the last bits decided which of two equally
        # strong partners an account kept (the same store scanned twice gave other links).
        # An owned hub's holders pair only with their next ``hub_neighbours`` on its circle.
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _sw_infra_pairs AS
            WITH hub AS (
                SELECT *, row_number() OVER (PARTITION BY type, value
                                             ORDER BY md5(account_id), account_id) - 1 AS pos
                FROM _sw_infra_shared WHERE holders > {mg}
            ),
            shared AS (
                SELECT x.account_id AS a, y.account_id AS b, x.type, x.value, x.weight,
                       false AS hub
                FROM _sw_infra_shared x JOIN _sw_infra_shared y
                  ON x.type = y.type AND x.value = y.value AND x.account_id < y.account_id
                WHERE x.holders <= {mg}
                UNION ALL
                -- a pair the circle reaches from both sides counts once
                SELECT DISTINCT least(x.account_id, y.account_id),
                       greatest(x.account_id, y.account_id), x.type, x.value, x.weight,
                       true AS hub
                FROM (SELECT *, unnest(range(1, {int(self.hub_neighbours) + 1})) AS d FROM hub) x
                JOIN hub y ON x.type = y.type AND x.value = y.value
                          AND y.pos = (x.pos + x.d) % x.holders
            )
            SELECT a, b, round(sum(weight), 9) AS total, count(*) AS n_values,
                   round(1 - exp(-sum(weight)), 9) AS w, bool_or(hub) AS hub,
                   min({{'nw': -weight, 't': type, 'v': value}}) AS best
            FROM shared
            GROUP BY ALL
            """
        )
        strength_of = con.execute(
            "SELECT account_id, round(sum(weight), 9) FROM _sw_infra_shared GROUP BY ALL "
            "ORDER BY account_id"
        ).fetchall()
        if not strength_of:
            return out
        everyone = np.zeros(max(n_scored, len(strength_of)))
        everyone[: len(strength_of)] = [t for _, t in strength_of]
        usual_strength = float(np.median(everyone))
        partners = {
            a: (int(n), int(k))
            for a, n, k in con.execute(
                "SELECT acc, count(*), sum(CASE WHEN w >= 0.5 THEN 1 ELSE 0 END) FROM ("
                "SELECT a AS acc, w FROM _sw_infra_pairs UNION ALL "
                "SELECT b AS acc, w FROM _sw_infra_pairs) GROUP BY acc"
            ).fetchall()
        }
        facts: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for a, kind, value, h, w in con.execute(
            """
            SELECT account_id, type, value, holders, weight FROM _sw_infra_shared
            QUALIFY row_number() OVER (PARTITION BY account_id
                                       ORDER BY weight DESC, type, value) <= 5
            ORDER BY account_id, weight DESC, type, value
            """
        ).fetchall():
            facts[a].append({"type": kind, "value": str(value), "holders": int(h),
                             "weight": round(float(w), 4),
                             "usual_share": round(float(usual[kind]), 4)})  # fmt: skip
        for a, total in strength_of:
            score = (float(total) - usual_strength) / self.full_strength
            mine = facts.get(str(a), [])
            n, k = partners.get(a, (0, 0))
            out.add(
                str(a),
                min(1.0, score),
                {
                    "shared": mine,
                    "types": len({f["type"] for f in mine}),
                    "partners": n,
                    "strong_partners": k,
                    "tie_strength": round(float(total), 3),
                    "usual_tie_strength": round(usual_strength, 3),
                },
            )
        # An owned hub's circle pairs are links whatever their weight: the larger the pool,
        # the less each of its values weighs, and under the floor of 0.3 the cards of a large
        # enough pool tied none of their holders (`proxy-mixed` medium development seed 3:
        # the operator's 8 cards, 807-898 accounts each, no legitimate account among them,
        # pair weights 0.290-0.296, no link; 299 of the 339 accounts the campaign missed).
        # The links from arrays: the pairs are distinct and accounts are numbered in id order,
        # so ``top_k_mask`` keeps what ``top_k_links`` would.
        pairs = con.execute(
            """
            WITH strong AS (SELECT * FROM _sw_infra_pairs WHERE w >= 0.3 OR hub),
            ids AS (
                SELECT id, row_number() OVER (ORDER BY id) - 1 AS code
                FROM (SELECT a AS id FROM strong UNION SELECT b FROM strong)
            )
            SELECT s.a, s.b, x.code AS x, y.code AS y, s.w, s.n_values,
                   s.best.t AS kind, CAST(s.best.v AS VARCHAR) AS value
            FROM strong s JOIN ids x ON x.id = s.a JOIN ids y ON y.id = s.b
            ORDER BY s.a, s.b
            """
        ).fetchnumpy()
        if not len(pairs["w"]):
            return out
        w = np.asarray(pairs["w"], dtype=np.float64)
        at = np.flatnonzero(top_k_mask(np.asarray(pairs["x"]), np.asarray(pairs["y"]), w,
                                       self.top_k))  # fmt: skip
        kind = np.asarray(pairs["kind"], dtype=object)[at]
        out.links = LinkColumns(
            self.id, kind,
            np.asarray(pairs["a"], dtype=object)[at], np.asarray(pairs["b"], dtype=object)[at],
            rounded(w[at], 4),
            {"values": np.asarray(pairs["n_values"], dtype=np.int64)[at],
             "strongest": np.asarray(pairs["value"], dtype=object)[at], "strongest_type": kind},
        )  # fmt: skip
        return out
