"""Reference data from public facts (never from the simulator): ASN kinds, public e-mail
domains. Versioned CSV files in ``reference/``; any ASN not listed is ``unknown``."""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

ASN_KINDS = ("cloud", "hosting", "mobile", "isp", "education")


def _rows(name: str) -> tuple[str, list[dict[str, str]]]:
    text = resources.files("stillwatch.features").joinpath("reference", name).read_text("utf-8")
    lines = text.splitlines()
    version = lines[0].rsplit("version", 1)[-1].strip() if lines else "?"
    body = [line for line in lines if line.strip() and not line.startswith("#")]
    return version, list(csv.DictReader(body))


@cache
def asn_kinds() -> dict[int, str]:
    """ASN → kind for every ASN the reference lists."""
    _, rows = _rows("asn_kinds.csv")
    out = {int(r["asn"]): r["kind"] for r in rows}
    bad = sorted({k for k in out.values() if k not in ASN_KINDS})
    if bad:
        raise ValueError(f"reference/asn_kinds.csv: unknown kind(s) {bad}; allowed {ASN_KINDS}")
    return out


@cache
def public_email_domains() -> frozenset[str]:
    _, rows = _rows("email_domains.csv")
    return frozenset(r["domain"].strip().lower() for r in rows)


def versions() -> dict[str, str]:
    """Versions of the reference files, recorded with every scan."""
    return {"asn_kinds": _rows("asn_kinds.csv")[0], "email_domains": _rows("email_domains.csv")[0]}


def asn_kind(asn: int | None) -> str:
    if asn is None:
        return "unknown"
    return asn_kinds().get(int(asn), "unknown")
