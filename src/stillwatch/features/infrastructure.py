"""Infrastructure per account: how many addresses, networks, clients and countries, and what
kind of network (cloud, hosting, mobile, home ISP, education, unknown) the traffic comes from.

ASN kinds come from the versioned public reference (``reference/asn_kinds.csv``); an ASN not
listed is ``unknown``. Catches: datacenter egress, address rotation across many prefixes.
Known false positives: apps and coding fleets on cloud egress; mobile users hop prefixes.
"""

from __future__ import annotations

import ibis.expr.types as ir

from stillwatch.features.sources import Sources, asn_kind_table, ip_prefix, safe_div

# the ASN kinds whose share of an account's exchanges is a feature (``unknown`` last)
KINDS = ("cloud", "hosting", "mobile", "isp")


def network_days(src: Sources) -> ir.Table:
    """Each account's distinct network facts per UTC day (address or its hash, ASN, client,
    TLS fingerprint, country) with the exchanges that carried them, their network prefix and
    the kind of their ASN. An account's requests repeat the same few facts day after day, so
    this table holds a fraction of the traffic's rows (a third at the large scale) and every
    count of distinct values per account, or per account and day, reads the same from it;
    a prefix is worked out once per distinct address an account used that day, not per
    request."""
    if src.network_days is not None:
        return src.network_days
    ex = src.exchanges
    days = ex.group_by(
        "account_id", "ip", "ip_hash", "asn", "user_agent", "tls_fingerprint", "ip_country",
        day=ex.ts.date(),
    ).aggregate(exchanges=ex.count())  # fmt: skip
    ref = asn_kind_table()
    j = days.left_join(ref, days.asn == ref.ref_asn)
    return j.select(
        days.account_id,
        days.day,
        days.ip,
        days.asn,
        days.user_agent,
        days.tls_fingerprint,
        days.ip_country,
        exchanges=days.exchanges.cast("int64"),
        prefix=ip_prefix(days.ip, days.ip_hash),
        asn_kind=j.asn_kind.fill_null("unknown"),
        has_asn=days.asn.notnull(),
    )


def infrastructure_features(src: Sources) -> ir.Table:
    x = network_days(src)
    x = x.mutate(day_prefix=x.day.cast("string") + "|" + x.prefix)
    # shares of the exchanges whose ASN is known (each row stands for ``exchanges`` of them)
    known = x.has_asn.ifelse(x.exchanges, 0)

    def kind_exchanges(kind: str) -> ir.IntegerValue:
        return (x.has_asn & (x.asn_kind == kind)).ifelse(x.exchanges, 0).sum().cast("int64")

    per = x.group_by("account_id").aggregate(
        distinct_ips=x.ip.nunique(),
        distinct_prefixes=x.prefix.nunique(),
        distinct_asns=x.asn.nunique(),
        distinct_user_agents=x.user_agent.nunique(),
        distinct_tls=x.tls_fingerprint.nunique(),
        distinct_countries=x.ip_country.nunique(),
        day_prefixes=x.day_prefix.nunique(),
        days=x.day.nunique(),
        known=known.sum().cast("int64"),
        **{f"{kind}_exchanges": kind_exchanges(kind) for kind in (*KINDS, "unknown")},
    )
    return per.select(
        "account_id",
        "distinct_ips",
        "distinct_prefixes",
        "distinct_asns",
        "distinct_user_agents",
        "distinct_tls",
        "distinct_countries",
        prefixes_per_active_day=safe_div(per.day_prefixes, per.days),
        **{f"{kind}_share": safe_div(per[f"{kind}_exchanges"], per.known) for kind in KINDS},
        unknown_asn_share=safe_div(per.unknown_exchanges, per.known),
    )
