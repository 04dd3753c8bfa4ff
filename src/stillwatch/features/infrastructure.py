"""Infrastructure per account: how many addresses, networks, clients and countries, and what
kind of network (cloud, hosting, mobile, home ISP, education, unknown) the traffic comes from.

ASN kinds come from the versioned public reference (``reference/asn_kinds.csv``); an ASN not
listed is ``unknown``. Catches: datacenter egress, address rotation across many prefixes.
Known false positives: apps and coding fleets on cloud egress; mobile users hop prefixes.
"""

from __future__ import annotations

import ibis.expr.types as ir

from stillwatch.features.sources import Sources, asn_kind_table, day_bin, ip_prefix, safe_div, share


def with_prefix_and_kind(src: Sources) -> ir.Table:
    """Exchanges with their network prefix and the kind of their ASN."""
    ex = src.exchanges
    ref = asn_kind_table()
    j = ex.left_join(ref, ex.asn == ref.ref_asn)
    return j.select(
        ex.account_id,
        ex.ts,
        ex.ip,
        ex.asn,
        ex.user_agent,
        ex.tls_fingerprint,
        ex.ip_country,
        prefix=ip_prefix(ex.ip, ex.ip_hash),
        asn_kind=j.asn_kind.fill_null("unknown"),
        has_asn=ex.asn.notnull(),
    )


def infrastructure_features(src: Sources) -> ir.Table:
    x = with_prefix_and_kind(src)
    x = x.mutate(day_prefix=day_bin(x.ts).cast("string") + "|" + x.prefix)
    known = x.has_asn

    def kind_share(kind: str) -> ir.FloatingValue:
        return share(known.ifelse(x.asn_kind == kind, None))

    per = x.group_by("account_id").aggregate(
        distinct_ips=x.ip.nunique(),
        distinct_prefixes=x.prefix.nunique(),
        distinct_asns=x.asn.nunique(),
        distinct_user_agents=x.user_agent.nunique(),
        distinct_tls=x.tls_fingerprint.nunique(),
        distinct_countries=x.ip_country.nunique(),
        day_prefixes=x.day_prefix.nunique(),
        days=day_bin(x.ts).nunique(),
        cloud_share=kind_share("cloud"),
        hosting_share=kind_share("hosting"),
        mobile_share=kind_share("mobile"),
        isp_share=kind_share("isp"),
        unknown_asn_share=kind_share("unknown"),
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
        cloud_share=per.cloud_share,
        hosting_share=per.hosting_share,
        mobile_share=per.mobile_share,
        isp_share=per.isp_share,
        unknown_asn_share=per.unknown_asn_share,
    )
