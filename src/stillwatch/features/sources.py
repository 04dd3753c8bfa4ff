"""The canonical tables as Ibis tables, and the small expressions several features share.

A table the store lacks rows for is still a table (empty), and a column never logged is all
NULL: every feature then comes out NULL rather than failing, and the detectors that need it
say they were skipped (``detectors.requires``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir

from stillwatch.features import reference


@dataclass(frozen=True)
class Sources:
    """The three canonical tables of one store (or any backend holding them), the
    partners' indicators matched to our accounts (``intel_matches``) where the backend holds
    them, and the network facts per account and day where the scan has kept them."""

    exchanges: ir.Table
    accounts: ir.Table
    enforcements: ir.Table
    intel_matches: ir.Table | None = None
    # ``features.infrastructure.network_days`` where the scan has worked it out once (the
    # features, the daily window and the shared-infrastructure detector all read it)
    network_days: ir.Table | None = None

    @classmethod
    def from_backend(cls, con: Any) -> Sources:
        try:
            matches = con.table("intel_matches")
        except Exception:  # a backend holding only the canonical tables (each raises its own)
            matches = None
        return cls(
            con.table("exchanges"), con.table("accounts"), con.table("enforcements"), matches
        )


def epoch_s(ts: ir.TimestampValue) -> ir.FloatingValue:
    """Whole seconds since 1970 (floor), the same on every backend."""
    return ts.epoch_seconds().cast("float64").floor().cast("float64")


def std_pop(x: ir.FloatingValue | ir.IntegerValue) -> ir.FloatingScalar:
    """Population standard deviation of whole numbers (counts, whole seconds), the same in
    every run: from the mean of ``x`` and of ``x²``, whose sums are exact (below 2**53), where
    DuckDB's own ``stddev_pop`` combines its threads' partial results in whatever order they
    finish and differs in the last bits from run to run."""
    xf = x.cast("float64")
    var = (xf * xf).mean() - xf.mean() * xf.mean()
    return ibis.greatest(var, 0.0).sqrt()


def hour_bin(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Hours since 1970: the hourly window."""
    return (epoch_s(ts) / 3600).floor().cast("int64")


def day_bin(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Days since 1970 (UTC): the daily window."""
    return (epoch_s(ts) / 86400).floor().cast("int64")


def ip_prefix(ip: ir.StringValue, ip_hash: ir.StringValue | None = None) -> ir.StringValue:
    """The network of an address: its /24 (IPv4), /64 (IPv6), the CIDR as logged, or the
    keyed hash where no address is kept."""
    v4 = ip.re_extract(r"^(\d+\.\d+\.\d+)\.\d+$", 1)
    v6 = ip.re_extract(r"^([0-9a-fA-F]*:[0-9a-fA-F]*:[0-9a-fA-F]*:[0-9a-fA-F]*)", 1)
    prefix = (
        ibis.cases(
            (ip.contains("/"), ip),
            (ip.contains(":") & (v6 != ""), v6.lower() + "::/64"),
            ((v4 != "") & ~ip.contains(":"), v4 + ".0/24"),
            else_=ibis.null("string"),
        )
        if ip is not None
        else ibis.null("string")
    )
    if ip_hash is None:
        return prefix
    return prefix.coalesce(ibis.literal("hash:") + ip_hash)


def asn_kind_table() -> ir.Table:
    """The versioned ASN reference as an in-memory table (asn, asn_kind)."""
    kinds = reference.asn_kinds()
    return ibis.memtable(
        {"ref_asn": list(kinds), "asn_kind": list(kinds.values())},
        schema={"ref_asn": "int64", "asn_kind": "string"},
    )


def email_domain_kind(domain: ir.StringValue) -> ir.StringValue:
    """``public`` (webmail), ``education``, ``other``; NULL where no domain."""
    d = domain.lower()
    public = list(reference.public_email_domains())
    return ibis.cases(
        (d.isnull(), ibis.null("string")),
        (d.isin(public), "public"),
        (d.endswith(".edu") | d.contains(".edu.") | d.contains(".ac."), "education"),
        else_="other",
    )


def share(condition: ir.BooleanValue) -> ir.FloatingValue:
    """Share of rows where ``condition`` holds, among rows where it is known."""
    return condition.cast("float64").mean()


def safe_div(a: ir.NumericValue, b: ir.NumericValue) -> ir.FloatingValue:
    return ibis.cases((b == 0, ibis.null("float64")), else_=a.cast("float64") / b)
