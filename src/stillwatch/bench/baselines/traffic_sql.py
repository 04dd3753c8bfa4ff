"""SQL expressions over the canonical views that several baselines share."""

from __future__ import annotations


def ip_prefix(column: str = "ip", hash_column: str | None = "ip_hash") -> str:
    """The network an address belongs to: /24 for IPv4, /64 for IPv6, a given CIDR as is;
    the keyed hash where the provider keeps no address."""
    prefix = (
        f"CASE WHEN {column} LIKE '%/%' THEN {column} "
        f"WHEN {column} LIKE '%:%' THEN "
        f"array_to_string(string_split({column}, ':')[1:4], ':') || '::/64' "
        f"ELSE regexp_extract({column}, '^(\\d+\\.\\d+\\.\\d+)\\.', 1) || '.0/24' END"
    )
    if hash_column is None:
        return prefix
    return f"coalesce({prefix}, 'hash:' || {hash_column})"


def prompt_key() -> str:
    """One key per prompt text: its SHA-256 where given, else a hash of the text."""
    return "coalesce(prompt_sha256, md5(prompt))"


ACCOUNTS_SEEN = """
    SELECT account_id FROM exchanges WHERE account_id IS NOT NULL
    UNION
    SELECT account_id FROM accounts WHERE account_id IS NOT NULL
    ORDER BY account_id
"""
