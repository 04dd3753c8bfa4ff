"""Registration per account: age at first use, signup path, verification, and how many other
accounts registered in the same hour (same path, same signup network) or share its card.

Catches: accounts put to work the day they are made, registered in bursts from one network
or onboarding path, many accounts on one payment instrument. Known false positives: a class
enrolling on the education path in one lecture, an enterprise provisioning many keys on one
card, sign-up spikes after a launch.
"""

from __future__ import annotations

import ibis.expr.types as ir

from stillwatch.features.sources import Sources, email_domain_kind, epoch_s, hour_bin, ip_prefix


def registrations(src: Sources) -> ir.Table:
    """Accounts with their signup hour, signup network and e-mail domain kind."""
    a = src.accounts
    return a.select(
        "account_id",
        "created_at",
        "signup_path",
        "verified",
        "payment_fingerprint",
        "email_domain",
        "org_name",
        signup_prefix=ip_prefix(a.signup_ip),
        signup_hour=hour_bin(a.created_at),
        email_domain_kind=email_domain_kind(a.email_domain),
    )


def _count_by(reg: ir.Table, keys: list[str], name: str) -> ir.Table:
    valid = reg
    for k in keys:
        valid = valid.filter(valid[k].notnull())
    return valid.group_by(keys).aggregate(**{name: valid.count()})


def registration_features(src: Sources) -> ir.Table:
    reg = registrations(src)
    hour = _count_by(reg, ["signup_hour"], "same_hour_signups")
    path = _count_by(reg, ["signup_hour", "signup_path"], "same_hour_same_path")
    net = _count_by(reg, ["signup_hour", "signup_prefix"], "same_hour_same_signup_prefix")
    card = _count_by(reg, ["payment_fingerprint"], "payment_accounts")
    ex = src.exchanges
    use = ex.group_by("account_id").aggregate(first_ts=ex.ts.min(), last_ts=ex.ts.max())
    j = (
        reg.left_join(use, "account_id")
        .left_join(hour, "signup_hour")
        .left_join(path, ["signup_hour", "signup_path"])
        .left_join(net, ["signup_hour", "signup_prefix"])
        .left_join(card, "payment_fingerprint")
    )
    return j.select(
        "account_id",
        "created_at",
        age_days_at_first_use=((epoch_s(j.first_ts) - epoch_s(j.created_at)) / 86400).cast(
            "float64"
        ),
        lifetime_days=((epoch_s(j.last_ts) - epoch_s(j.created_at)) / 86400).cast("float64"),
        signup_path=j.signup_path,
        verified=j.verified,
        email_domain_kind=j.email_domain_kind,
        same_hour_signups=j.same_hour_signups,
        same_hour_same_path=j.same_hour_same_path,
        same_hour_same_signup_prefix=j.same_hour_same_signup_prefix,
        payment_accounts=j.payment_accounts,
    )
