"""The indicator patterns stillwatch writes and reads: two custom pattern types and three
shapes of standard STIX patterns.

``stillwatch-keyed-hash``
    ``<kind>/<version>:hmac-sha256:<key id>:<64 hex>`` — HMAC-SHA256 under the community key
    of the canonical value (``keys.CommunityKey.keyed_hash`` with the kind's tag as domain).
``stillwatch-keyed-minhash``
    ``prompt-skeleton/1:minhash-128:<key id>:<1024 hex>`` — a keyed MinHash signature
    (``minhash``): 128 big-endian unsigned 32-bit minima.
``stix`` (raw values, only under ``--allow-raw``)
    ``[ipv4-addr:value ISSUBSET '203.0.113.0/24']``, ``[ipv6-addr:value ISSUBSET
    '2001:db8:1::/48']``, ``[email-addr:value LIKE '%@example.net']``.

Any other pattern, or any other pattern type, is not one stillwatch can match and makes an
imported bundle invalid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stillwatch.intel import minhash
from stillwatch.intel.canonical import (
    EMAIL_DOMAIN,
    IP_PREFIX,
    KINDS,
    PROMPT_SKELETON,
    Kind,
    email_domain,
    ip_prefix,
)
from stillwatch.intel.indicators import Encoding, SharedIndicator

KEYED_HASH = "stillwatch-keyed-hash"
KEYED_MINHASH = "stillwatch-keyed-minhash"
STIX = "stix"
PATTERN_TYPES = (KEYED_HASH, KEYED_MINHASH, STIX)

_KEYED_HASH = re.compile(r"^([a-z0-9-]+/\d+):hmac-sha256:([0-9a-f]{16}):([0-9a-f]{64})$")
_KEYED_MINHASH = re.compile(
    rf"^([a-z0-9-]+/\d+):minhash-{minhash.NUM_PERM}:([0-9a-f]{{16}}):([0-9a-f]{{{minhash.HEX_CHARS}}})$"
)
_RAW_IP = re.compile(r"^\[ipv([46])-addr:value ISSUBSET '([0-9a-f.:]+/\d+)'\]$")
_RAW_EMAIL = re.compile(r"^\[email-addr:value LIKE '%@([a-z0-9.-]+)'\]$")


@dataclass(frozen=True)
class ParsedPattern:
    kind: Kind
    encoding: Encoding
    value: str
    key_id: str | None


def write(indicator: SharedIndicator, key_id: str) -> tuple[str, str]:
    """(pattern_type, pattern) of a shared indicator."""
    tag = indicator.kind.tag
    if indicator.encoding == "keyed-hash":
        return KEYED_HASH, f"{tag}:hmac-sha256:{key_id}:{indicator.value}"
    if indicator.encoding == "keyed-minhash":
        return KEYED_MINHASH, f"{tag}:minhash-{minhash.NUM_PERM}:{key_id}:{indicator.value}"
    if indicator.kind is IP_PREFIX:
        version = 6 if ":" in indicator.value else 4
        return STIX, f"[ipv{version}-addr:value ISSUBSET '{indicator.value}']"
    if indicator.kind is EMAIL_DOMAIN:
        return STIX, f"[email-addr:value LIKE '%@{indicator.value}']"
    raise ValueError(f"{tag} is never shared raw")


class PatternError(ValueError):
    """A pattern stillwatch cannot match; the message says why."""


def read(pattern_type: str, pattern: str) -> ParsedPattern:
    """Parse a pattern this module writes; PatternError for anything else."""
    if pattern_type == KEYED_HASH:
        m = _KEYED_HASH.match(pattern)
        if not m:
            raise PatternError(
                f"not <kind>/<version>:hmac-sha256:<key id>:<64 hex>: {pattern[:80]!r}"
            )
        return ParsedPattern(_kind(m[1]), "keyed-hash", m[3], m[2])
    if pattern_type == KEYED_MINHASH:
        m = _KEYED_MINHASH.match(pattern)
        if not m:
            raise PatternError(
                f"not <kind>/<version>:minhash-{minhash.NUM_PERM}:<key id>:<hex>: {pattern[:80]!r}"
            )
        kind = _kind(m[1])
        if kind is not PROMPT_SKELETON:
            raise PatternError(
                f"a MinHash signature is only defined for {PROMPT_SKELETON.tag}, got {kind.tag}"
            )
        return ParsedPattern(kind, "keyed-minhash", m[3], m[2])
    if pattern_type == STIX:
        if m := _RAW_IP.match(pattern):
            if ip_prefix(m[2]) != m[2]:
                raise PatternError(f"{m[2]!r} is not a canonical {IP_PREFIX.tag} (/24 or /48)")
            return ParsedPattern(IP_PREFIX, "raw", m[2], None)
        if m := _RAW_EMAIL.match(pattern):
            if email_domain(m[1]) != m[1]:
                raise PatternError(f"{m[1]!r} is not a canonical {EMAIL_DOMAIN.tag}")
            return ParsedPattern(EMAIL_DOMAIN, "raw", m[1], None)
        raise PatternError(f"a STIX pattern stillwatch cannot match: {pattern[:80]!r}")
    raise PatternError(
        f"unknown pattern type {pattern_type[:40]!r}; known: {', '.join(PATTERN_TYPES)}"
    )


def _kind(tag: str) -> Kind:
    try:
        return KINDS[tag]
    except KeyError:
        raise PatternError(f"unknown indicator kind {tag!r}; known: {', '.join(KINDS)}") from None
