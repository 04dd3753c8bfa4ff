"""Enforcement history per account: was it acted on, is it tied to accounts that were, and was
it registered right after such a ban (a replacement).

An account is *enforced* when its latest suspend/ban is not followed by a reinstatement. Ties
are a shared payment fingerprint, signup network or non-public e-mail domain; values held by
more than ``max_group`` (10) accounts are not rare (a campus NAT, a company domain) and
tie nothing. Catches: hydra operators replacing
banned accounts at once. Known false positives: a family or office sharing a card or network
with one banned member; enforcement tables that record throttles as bans.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from stillwatch.features.registration import registrations
from stillwatch.features.sources import Sources, epoch_s

ENFORCING = ("suspend", "ban")
MAX_GROUP = 10


def enforced_accounts(src: Sources) -> ir.Table:
    """(account_id, banned_at): accounts whose latest suspend/ban stands."""
    e = src.enforcements
    per = e.group_by("account_id").aggregate(
        banned_at=e.ts.min(where=e.action.isin(ENFORCING)),
        last_ban=e.ts.max(where=e.action.isin(ENFORCING)),
        last_reinstate=e.ts.max(where=e.action == "reinstate"),
    )
    per = per.filter(
        per.last_ban.notnull() & (per.last_reinstate.isnull() | (per.last_reinstate < per.last_ban))
    )
    return per.select("account_id", "banned_at")


def _ties(src: Sources, max_group: int) -> ir.Table:
    """(account_id, attribute, value) for the attributes that tie accounts to bans."""
    reg = registrations(src)
    parts = []
    for attr, value in (
        ("payment", reg.payment_fingerprint),
        ("signup_prefix", reg.signup_prefix),
        ("email_domain", ibis.cases((reg.email_domain_kind == "other", reg.email_domain.lower()))),
    ):
        t = reg.select("account_id", "created_at", attribute=ibis.literal(attr), value=value)
        parts.append(t.filter(t.value.notnull()))
    ties = ibis.union(*parts)
    sizes = ties.group_by("attribute", "value").aggregate(holders=ties.count())
    ties = ties.inner_join(sizes, ["attribute", "value"])
    return ties.filter(ties.holders <= max_group).select(
        "account_id", "created_at", "attribute", "value"
    )


def enforcement_features(src: Sources, max_group: int = MAX_GROUP) -> ir.Table:
    banned = enforced_accounts(src)
    ties = _ties(src, max_group)
    banned_ties = ties.inner_join(banned, "account_id").select(
        banned_account=ties.account_id,
        attribute=ties.attribute,
        value=ties.value,
        banned_at=banned.banned_at,
    )
    pairs = ties.inner_join(banned_ties, ["attribute", "value"])
    pairs = pairs.filter(pairs.account_id != pairs.banned_account)
    after = ibis.cases(
        (
            pairs.created_at > pairs.banned_at,
            (epoch_s(pairs.created_at) - epoch_s(pairs.banned_at)) / 3600,
        ),
        else_=ibis.null("float64"),
    )
    linked = pairs.group_by("account_id").aggregate(
        linked_enforced_accounts=pairs.banned_account.nunique(),
        hours_after_linked_ban=after.min().cast("float64"),
    )
    everyone = ibis.union(
        src.accounts.select("account_id"), src.exchanges.select("account_id")
    ).distinct()
    j = everyone.left_join(banned, "account_id").left_join(linked, "account_id")
    return j.select(
        everyone.account_id,
        enforced=j.banned_at.notnull(),
        linked_enforced_accounts=j.linked_enforced_accounts.fill_null(0),
        hours_after_linked_ban=j.hours_after_linked_ban,
    )
