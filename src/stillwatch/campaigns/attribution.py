"""Operators: campaigns linked to one operator when something the operator owns carries over
between them, kept apart when they merely rent from the same provider.

Two reported campaigns are tied when the edges of the account graph running between their
members with evidence of a kind an operator owns (payment instruments, non-public e-mail
domains, sign-up networks, registration bursts, replacement after bans, prompt frames, MinHash
neighbours, same-minute activity) weigh at least ``ratio`` per account of the smaller campaign
— not the rented-pool kinds (IP prefixes, ASNs, TLS fingerprints, user agents, everyone's
sign-up path: two customers of one proxy provider share those and nothing else). A few
accounts alike by chance between two large campaigns do not tie them. Operators are the
connected groups of tied campaigns.

Known misses: an operator that changes every owned attribute between campaigns (new cards,
new frames, new schedule) is split into two operators. Known false positives: two operators
buying accounts from the same account vendor (one batch of registrations) are joined.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from stillwatch.link.graph import POOL_TYPES


def owned(link_types: list[str]) -> bool:
    return any(t not in POOL_TYPES for t in link_types)


def bridges(edges: pd.DataFrame, campaign_of: dict[str, int]) -> dict[tuple[int, int], float]:
    """Weight of the edges with owned evidence between members of two different campaigns,
    per pair of campaigns."""
    ca = edges.a.map(campaign_of)
    cb = edges.b.map(campaign_of)
    mask = ca.notna() & cb.notna() & (ca != cb)
    out: dict[tuple[int, int], float] = {}
    for x, y, types, w in zip(ca[mask], cb[mask], edges.link_types[mask], edges.weight[mask],
                              strict=True):  # fmt: skip
        if owned(list(types)):
            key = (int(min(x, y)), int(max(x, y)))
            out[key] = out.get(key, 0.0) + float(w)
    return out


def operator_groups(
    sizes: list[int], ties: dict[tuple[int, int], float], ratio: float
) -> np.ndarray:
    """Operator label per campaign (0..n-1) of the given sizes."""
    n_campaigns = len(sizes)
    if n_campaigns == 0:
        return np.zeros(0, dtype=np.int64)
    keep = [(a, b) for (a, b), w in ties.items() if w >= ratio * min(sizes[a], sizes[b])]
    rows = [a for a, _ in keep]
    cols = [b for _, b in keep]
    graph = sparse.coo_matrix(([1] * len(keep), (rows, cols)), shape=(n_campaigns, n_campaigns))
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels, dtype=np.int64)
