"""Canonical forms: the same infrastructure gives the same text at every provider."""

from __future__ import annotations

import ipaddress
import re

from hypothesis import given
from hypothesis import strategies as st

from stillwatch.intel.canonical import (
    TLS_JA3,
    TLS_JA4,
    email_domain,
    ip_prefix,
    skeleton_v1,
    tls_fingerprint,
)
from stillwatch.intel.keys import CommunityKey


def test_ip_prefix_forms() -> None:
    assert ip_prefix("203.0.113.77") == "203.0.113.0/24"
    assert ip_prefix(" 203.0.113.0/26 ") == "203.0.113.0/24"
    assert ip_prefix("2001:DB8:4a1c:12::9") == "2001:db8:4a1c::/48"
    assert ip_prefix("::ffff:198.51.100.9") == "198.51.100.0/24"
    assert ip_prefix("10.0.0.0/16") is None  # wider than one /24: no single network
    assert ip_prefix("not an address") is None


@given(st.ip_addresses())
def test_ip_prefix_is_idempotent_and_contains_the_address(address: ipaddress._BaseAddress) -> None:
    prefix = ip_prefix(str(address))
    assert prefix is not None
    assert ip_prefix(prefix) == prefix
    net = ipaddress.ip_network(prefix)
    mapped = getattr(address, "ipv4_mapped", None)
    assert (mapped or address) in net


def test_email_domain_forms() -> None:
    assert email_domain("Someone@QuillFarm-Mail.Example.") == "quillfarm-mail.example"
    assert email_domain("bücher.example") == "xn--bcher-kva.example"
    assert email_domain("a@b@c.example") == "c.example"
    assert email_domain("localhost") is None
    assert email_domain("bad_domain.example") is None


def test_tls_fingerprint_kinds() -> None:
    ja4 = "T13D1516H2_8daaf6152771_02713d6af862"
    assert tls_fingerprint(ja4) == (TLS_JA4, ja4.lower())
    assert tls_fingerprint("E7D705A3286E19EA42F587B344EE6865") == (
        TLS_JA3, "e7d705a3286e19ea42f587b344ee6865"
    )  # fmt: skip
    # a full JA3 string is hashed with MD5, as JA3 defines
    found = tls_fingerprint("771,4865-4866-4867,0-23-65281,29-23-24,0")
    assert found is not None and found[0] is TLS_JA3 and re.fullmatch(r"[0-9a-f]{32}", found[1])
    assert tls_fingerprint("python-requests/2.31") is None


def test_skeleton_keeps_the_frame_and_masks_the_slot() -> None:
    frame = (
        "Grade the answer below. Think step by step and explain every point you consider "
        "before you decide on anything at all.\n\nQuestion: {q}\n\nReturn JSON with the fields "
        "reasoning and score, and nothing else at all, no preamble."
    )
    a = skeleton_v1(frame.format(q="How many moons does Mars have? It has 2, Phobos and Deimos."))
    b = skeleton_v1(frame.format(q="Why do cats purr so loudly when they sleep near a fire?"))
    assert a is not None and a == b
    assert "mars" not in a and "⟨…⟩" in a
    assert skeleton_v1("Compute 17 * 23 and 4.5 + 1, see https://x.example/a") == skeleton_v1(
        "Compute 99 * 12 and 7 + 3, see https://y.example/b"
    )
    assert skeleton_v1("hi there") is None
    zh = skeleton_v1("请一步一步地写出你的完整推理过程")
    assert zh is not None and len(zh.split(" ")) == 16  # one token per CJK character


def test_keyed_hash_separates_kinds_and_keys() -> None:
    k1 = CommunityKey(b"\x01" * 32)
    k2 = CommunityKey(b"\x02" * 32)
    v = "198.51.100.0/24"
    assert k1.keyed_hash("ip-prefix/1", v) != k1.keyed_hash("email-domain/1", v)
    assert k1.keyed_hash("ip-prefix/1", v) != k2.keyed_hash("ip-prefix/1", v)
    assert k1.keyed_hash("ip-prefix/1", v) == k1.keyed_hash("ip-prefix/1", v)
