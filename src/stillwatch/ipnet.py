"""IP addresses and prefixes, in the project's own code: no DuckDB extension is downloaded.

The ``ip`` column holds an IPv4 or IPv6 address or a truncated prefix in CIDR form. IPv4 is
checked in SQL by one regular expression (fast, vectorized); IPv6, rarer, by Python's
``ipaddress`` on the rows that hold a colon.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
# Full-match pattern for an IPv4 address or CIDR prefix; no leading zeros (they are ambiguous).
IPV4_PATTERN = rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}(/(3[0-2]|[12]?[0-9]))?"


@lru_cache(maxsize=65536)
def is_ip_or_prefix(text: str | None) -> bool:
    """True for an IPv4/IPv6 address or CIDR prefix (host bits may be set, as in truncated logs)."""
    if text is None:
        return False
    value = text.strip()
    if not value or any(c.isspace() for c in value):
        return False
    try:
        if "/" in value:
            ipaddress.ip_network(value, strict=False)
        else:
            ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def prefix(text: str, v4_bits: int = 24, v6_bits: int = 48) -> str:
    """The network an address belongs to (``/24`` for IPv4, ``/48`` for IPv6 by default).

    A prefix already shorter than asked for is returned as it is.
    """
    net = ipaddress.ip_network(text.strip(), strict=False)
    bits = v4_bits if net.version == 4 else v6_bits
    if net.prefixlen <= bits:
        return str(net)
    return str(net.supernet(new_prefix=bits))
