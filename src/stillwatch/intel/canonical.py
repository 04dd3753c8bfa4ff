"""Each indicator kind's canonical form, specified and versioned.

Two providers who saw the same infrastructure must derive the same bytes before hashing, so
each kind fixes one canonical text. A change to a form is a new version (``ip-prefix/2``):
values of different versions never compare equal, and both sides must name the version they
used. The forms, version 1:

``ip-prefix/1``
    The network of an address: IPv4 ``/24``, IPv6 ``/48`` (an IPv4-mapped IPv6 address counts
    as IPv4), written by Python's ``ipaddress`` (``203.0.113.0/24``, ``2001:db8:1::/48``). A
    prefix already shorter than that names no single network and has no canonical form.
``email-domain/1``
    The part after the last ``@``, stripped of spaces and a trailing dot, lower-cased, and
    IDNA-encoded to ASCII (Python's ``idna`` codec, IDNA 2003). Must hold a dot and only
    letters, digits, hyphens and dots.
``tls-ja3/1``
    The JA3 fingerprint as its 32 lower-case hex digits (MD5). A full JA3 string
    (``771,4865-4866,...``) is hashed with MD5 first, as JA3 defines.
``tls-ja4/1``
    The JA4 fingerprint (FoxIO) in its hashed ``a_b_c`` form, lower-cased
    (``t13d1516h2_8daaf6152771_b186095e22b6``). The raw ``JA4_r`` form is not accepted.
``prompt-skeleton/1``
    The frame of a prompt by algorithm ``stillwatch-skeleton/1`` (:func:`skeleton_v1`): NFKC,
    case-folded; fenced code, URLs, e-mail addresses, quoted strings and numbers masked; split
    into word, CJK-character and punctuation tokens; runs of one mask collapsed; a prompt
    longer than 36 tokens keeps its first 24 and last 12 around ``⟨…⟩``, since campaigns put the
    varying slot between a fixed instruction head and a fixed format tail. Fewer than 4 tokens
    give no skeleton.

What a skeleton catches: fixed templates whose slots are numbers, quotes, code or a middle
section. Known false positives: popular public prompts and benchmark problems share
skeletons across unrelated users, so an indicator is only exported when several campaign
accounts sent it (``intel_min_skeleton_accounts``).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Entropy = Literal["low", "high"]


@dataclass(frozen=True)
class Kind:
    """An indicator kind: its name, canonical version, and how guessable its values are."""

    name: str
    version: int
    entropy: Entropy
    carries_across: bool
    meaning: str

    @property
    def tag(self) -> str:
        """``name/version``: the domain of its keyed hash, and its name in bundles."""
        return f"{self.name}/{self.version}"


IP_PREFIX = Kind("ip-prefix", 1, "low", True, "client network: IPv4 /24, IPv6 /48")
EMAIL_DOMAIN = Kind("email-domain", 1, "low", True, "domain of the registering e-mail")
TLS_JA3 = Kind("tls-ja3", 1, "high", True, "JA3 TLS client fingerprint (MD5 hex)")
TLS_JA4 = Kind("tls-ja4", 1, "high", True, "JA4 TLS client fingerprint (a_b_c form)")
PROMPT_SKELETON = Kind(
    "prompt-skeleton", 1, "high", True, "prompt frame by algorithm stillwatch-skeleton/1"
)
KINDS: dict[str, Kind] = {
    k.tag: k for k in (IP_PREFIX, EMAIL_DOMAIN, TLS_JA3, TLS_JA4, PROMPT_SKELETON)
}
# Kinds whose whole value space a community member can enumerate (all 2^24 IPv4 /24s, lists
# of common domains): a keyed hash of them hides nothing from another member, so they are
# never exported as hashes, only compared by private set intersection (or sent raw, on
# request, for datacenter networks).
LOW_ENTROPY = frozenset(k.tag for k in KINDS.values() if k.entropy == "low")

# Payment fingerprints are each provider's own opaque hash of a card: equal cards give
# unrelated values at two providers, so they are not a kind at all.
PROVIDER_SPECIFIC = ("payment_fingerprint",)

# Public mail services: every provider sees millions of legitimate users on them, so sharing
# one as an indicator would only flag the innocent. Never exported, never counted in PSI.
PUBLIC_MAIL_DOMAINS = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "ymail.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.ru",
        "yandex.ru",
        "yandex.com",
        "qq.com",
        "163.com",
        "126.com",
        "sina.com",
        "foxmail.com",
        "naver.com",
        "daum.net",
        "hanmail.net",
    ]
)


def ip_prefix(text: str) -> str | None:
    """``ip-prefix/1`` of an address or prefix; None where it has no single network."""
    try:
        net = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None
    if isinstance(net, ipaddress.IPv6Network) and net.prefixlen == 128:
        mapped = net.network_address.ipv4_mapped
        if mapped is not None:
            net = ipaddress.ip_network(f"{mapped}/32")
    bits = 24 if net.version == 4 else 48
    if net.prefixlen < bits:
        return None
    return str(net.supernet(new_prefix=bits))


_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")


def email_domain(text: str) -> str | None:
    """``email-domain/1`` of an address or a bare domain; None for what is not a domain."""
    domain = text.strip().rsplit("@", 1)[-1].strip().rstrip(".").lower()
    if not domain:
        return None
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    return domain if _DOMAIN.match(domain) else None


_JA3_HASH = re.compile(r"^[0-9a-f]{32}$")
_JA3_STRING = re.compile(r"^\d+,[\d-]*,[\d-]*,[\d-]*,[\d-]*$")
_JA4 = re.compile(r"^[tqd]\d{2}[di]\d{4}[0-9a-z]{2}_[0-9a-f]{12}_[0-9a-f]{12}$")


def tls_fingerprint(text: str) -> tuple[Kind, str] | None:
    """The kind (``tls-ja3/1`` or ``tls-ja4/1``) and canonical form of a fingerprint."""
    value = text.strip().lower()
    if _JA4.match(value):
        return TLS_JA4, value
    if _JA3_HASH.match(value):
        return TLS_JA3, value
    if _JA3_STRING.match(value):
        return TLS_JA3, hashlib.md5(value.encode("ascii"), usedforsecurity=False).hexdigest()
    return None


SKELETON_ALGORITHM = "stillwatch-skeleton/1"
_HEAD, _TAIL = 24, 12
_MASKS = (
    (re.compile(r"```.*?(```|$)", re.S), " ⟨code⟩ "),
    (re.compile(r"\b(?:https?|ftp)://\S+|\bwww\.\S+"), " ⟨url⟩ "),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), " ⟨email⟩ "),
    (re.compile(r"\"[^\"\n]{0,300}\"|“[^”\n]{0,300}”|«[^»\n]{0,300}»|「[^」\n]{0,300}」"), " ⟨q⟩ "),
    (re.compile(r"[-+]?\d+(?:[.,:/]\d+)*%?"), " ⟨n⟩ "),
)
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKEN = re.compile(rf"⟨\w+⟩|[{_CJK}]|[^\W{_CJK}]+|[^\w\s]")


def skeleton_v1(text: str) -> str | None:
    """The frame of one prompt by ``stillwatch-skeleton/1`` (see the module docstring)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    for pattern, mask in _MASKS:
        folded = pattern.sub(mask, folded)
    tokens: list[str] = []
    for token in _TOKEN.findall(folded):
        if token.startswith("⟨") and tokens and tokens[-1] == token:
            continue
        tokens.append(token)
    if len(tokens) < 4:
        return None
    if len(tokens) > _HEAD + _TAIL:
        tokens = [*tokens[:_HEAD], "⟨…⟩", *tokens[-_TAIL:]]
    return " ".join(tokens)


# The skeleton in use. The content stage's ``stillwatch.features.content.skeleton`` takes
# its place once it lands; its algorithm then gets its own version (``prompt-skeleton/2``).
skeleton: Callable[[str], str | None] = skeleton_v1


def canonical(kind: Kind, raw: str) -> str | None:
    """The canonical form of ``raw`` as ``kind``; None where it has none."""
    if kind is IP_PREFIX:
        return ip_prefix(raw)
    if kind is EMAIL_DOMAIN:
        return email_domain(raw)
    if kind in (TLS_JA3, TLS_JA4):
        found = tls_fingerprint(raw)
        return found[1] if found and found[0] is kind else None
    if kind is PROMPT_SKELETON:
        return skeleton(raw)
    raise KeyError(kind.tag)
