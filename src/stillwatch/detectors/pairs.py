"""Pairs from groups of accounts that share something, without materializing all pairs.

A group larger than ``max_group`` is a hub (a CGNAT address, a popular SDK): it yields no
pairs. Each account keeps only its ``top_k`` strongest partners.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from stillwatch.detectors.base import LinkCandidate


def top_k_links(
    detector: str,
    candidates: Iterable[tuple[str, str, float, str, dict[str, Any]]],
    top_k: int,
) -> list[LinkCandidate]:
    """Keep each pair once (its strongest reason), then the ``top_k`` strongest partners of
    each account; deterministic (ties broken by account id)."""
    best: dict[tuple[str, str], tuple[float, str, dict[str, Any]]] = {}
    for a, b, weight, link_type, evidence in candidates:
        if a == b:
            continue
        key = (a, b) if a < b else (b, a)
        old = best.get(key)
        if old is None or (weight, link_type) > (old[0], old[1]):
            best[key] = (weight, link_type, evidence)
    partners: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for (a, b), (w, _, _) in best.items():
        partners[a].append((w, b))
        partners[b].append((w, a))
    keep: set[tuple[str, str]] = set()
    for a, ps in partners.items():
        ps.sort(key=lambda p: (-p[0], p[1]))
        for _, b in ps[:top_k]:
            keep.add((a, b) if a < b else (b, a))
    return [
        LinkCandidate(detector, best[k][1], k[0], k[1], round(best[k][0], 4), best[k][2])
        for k in sorted(keep)
    ]


def group_pairs(members: list[str]) -> Iterable[tuple[str, str]]:
    ordered = sorted(members)
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            yield a, b


def sparse_group_pairs(members: list[str], neighbours: int) -> Iterable[tuple[str, str]]:
    """Pairs tying a large group together without all its pairs: members in a fixed
    pseudo-random order (by SHA-256 of the id, so the order does not follow the ids), each
    paired with the next ``neighbours`` ones around the circle. Every member gets about
    ``2 · neighbours`` partners; the group stays connected; pairs grow linearly."""
    ordered = sorted(members, key=lambda m: hashlib.sha256(m.encode()).hexdigest())
    n = len(ordered)
    if n <= 2 * neighbours + 1:
        yield from group_pairs(ordered)
        return
    for i, a in enumerate(ordered):
        for step in range(1, neighbours + 1):
            yield a, ordered[(i + step) % n]


def holder_pairs(incidence: Any, key: str, max_group: int, neighbours: int) -> set[tuple[str, str]]:
    """The pairs among each group of accounts holding one ``key`` value (``incidence``: a
    DataFrame with ``account_id`` and ``key``): every pair up to ``max_group`` holders, else
    :func:`sparse_group_pairs`."""
    pairs: set[tuple[str, str]] = set()
    for _, g in incidence.groupby(key, sort=True):
        ids = g.account_id.astype(str).tolist()
        pairs.update(
            group_pairs(ids) if len(ids) <= max_group else sparse_group_pairs(ids, neighbours)
        )
    return pairs
