"""Pairs from groups of accounts that share something, without materializing all pairs.

A group larger than ``max_group`` is a hub (a CGNAT address, a popular SDK): it yields no
pairs. Each account keeps only its ``top_k`` strongest partners.

The frame and prompt-hash detectors pair holders of millions of values at the large scale:
they use the array forms (:func:`holder_pair_codes`, :func:`top_k_mask`), which give what
:func:`holder_pairs` and :func:`top_k_links` give, on integer codes, holding eight bytes a
pair instead of a Python tuple of two strings (a large scan's prompt-hash pairs took 17 GB
that way).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np

from stillwatch.detectors.base import LinkCandidate
from stillwatch.features.codes import distinct


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


def ring_positions(ids: Iterable[str]) -> np.ndarray:
    """Each id's position in :func:`sparse_group_pairs`'s order (by SHA-256 of the id)."""
    digests = np.array([hashlib.sha256(str(i).encode()).hexdigest() for i in ids], dtype=object)
    positions = np.empty(len(digests), dtype=np.int64)
    positions[np.argsort(digests, kind="stable")] = np.arange(len(digests))
    return positions


def holder_pair_codes(
    account: np.ndarray, key: np.ndarray, ring: np.ndarray, max_group: int, neighbours: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`holder_pairs` on integer codes: ``account`` codes (numbered in id order) and
    ``key`` codes, one row per holding; ``ring``: each account code's :func:`ring_positions`.
    Returns the distinct pairs ``(x, y)``, ``x < y``, sorted."""
    order = np.lexsort((account, key))
    # four-byte account codes where they fit: the large scale pairs tens of millions
    code = np.int32 if len(account) and int(account.max()) < 2**31 else np.int64
    account, key = account[order].astype(code, copy=False), key[order]
    del order
    fresh = np.r_[True, (key[1:] != key[:-1]) | (account[1:] != account[:-1])]
    account, key = account[fresh], key[fresh]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    sizes = np.diff(np.r_[starts, len(key)])
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    whole = (sizes >= 2) & ((sizes <= max_group) | (sizes <= 2 * neighbours + 1))
    for size in np.unique(sizes[whole]):
        first = starts[whole & (sizes == size)]
        i, j = np.triu_indices(int(size), 1)
        per_block = max(1, 2_000_000 // len(i))  # groups per block: about 2 million pairs
        for at in range(0, len(first), per_block):
            block = first[at : at + per_block][:, None]
            xs.append(account[block + i].ravel())
            ys.append(account[block + j].ravel())
    ringed = sizes > max(max_group, 2 * neighbours + 1)
    if ringed.any():
        span = np.repeat(sizes[ringed], sizes[ringed])
        offset = np.repeat(np.cumsum(np.r_[0, sizes[ringed][:-1]]), sizes[ringed])
        place = np.arange(len(span)) - offset
        members = account[np.repeat(starts[ringed], sizes[ringed]) + place]
        group = np.repeat(np.arange(int(ringed.sum())), sizes[ringed])
        members = members[np.lexsort((ring[members], group))]
        for step in range(1, neighbours + 1):
            xs.append(members)
            ys.append(members[offset + (place + step) % span])
    if not xs:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    x, y = np.concatenate(xs), np.concatenate(ys)
    del xs, ys
    width = np.int64(int(account.max()) + 1)
    pairs = np.minimum(x, y).astype(np.int64) * width
    pairs += np.maximum(x, y)
    pairs = pairs[x != y]
    del x, y
    pairs = distinct(pairs)
    return pairs // width, pairs % width


def top_k_mask(xs: np.ndarray, ys: np.ndarray, weight: np.ndarray, top_k: int) -> np.ndarray:
    """Which distinct pairs :func:`top_k_links` keeps: those among the ``top_k`` strongest
    partners of either account (ties to the partner of smaller code, that is smaller id)."""
    n = len(xs)
    keep = np.zeros(n, dtype=bool)
    if not n:
        return keep
    # four-byte codes where they fit, and no more arrays of 2n alive at once than needed:
    # the large scale ranks tens of millions of pairs
    top = max(int(xs.max()), int(ys.max()))
    code = np.int32 if top < 2**31 else np.int64
    end = np.concatenate([xs, ys]).astype(code, copy=False)
    order = _by_end_weight_other(xs, ys, weight, top)
    if order is None:
        order = np.lexsort(
            (
                np.concatenate([ys, xs]).astype(code, copy=False),
                -np.concatenate([weight, weight]),
                end,
            )
        )
    end = end[order]
    rank = np.arange(2 * n)
    starts = np.flatnonzero(np.r_[True, end[1:] != end[:-1]])
    del end
    rank -= np.repeat(starts, np.diff(np.r_[starts, 2 * n]))
    order = order[rank < top_k]
    del rank
    keep[order % n] = True
    return keep


def _by_end_weight_other(
    xs: np.ndarray, ys: np.ndarray, weight: np.ndarray, top: int
) -> np.ndarray | None:
    """``top_k_mask``'s order of both ends (by end, then weight descending, then the other
    end, then position) by one stable sort of 64-bit keys: each weight's rank among the
    distinct weights packed between the two codes, where they fit (else None: lexsort)."""
    if min(int(xs.min()), int(ys.min())) < 0 or not np.isfinite(weight).all():
        return None
    by_weight = np.argsort(weight, kind="stable")
    ordered = weight[by_weight]
    rank = np.empty(len(weight), dtype=np.int64)
    rank[by_weight] = np.cumsum(np.r_[False, ordered[1:] != ordered[:-1]])
    del by_weight, ordered
    rank = rank.max() - rank  # the heaviest first
    code_bits = max(1, top.bit_length())
    rank_bits = max(1, int(rank.max()).bit_length())
    if 2 * code_bits + rank_bits > 63:
        return None
    key = np.concatenate([xs, ys]).astype(np.int64) << (code_bits + rank_bits)
    key |= np.concatenate([rank, rank]) << code_bits
    del rank
    key |= np.concatenate([ys, xs]).astype(np.int64)
    return np.argsort(key, kind="stable")
