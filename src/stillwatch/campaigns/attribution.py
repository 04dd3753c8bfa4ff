"""Operators: campaigns linked to one operator when something the operator owns carries over
between them, kept apart when they merely rent from the same provider.

Two reported campaigns are tied when the edges of the account graph running between their
members with evidence of a kind an operator owns (payment instruments, non-public e-mail
domains, sign-up networks, registration bursts, replacement after bans, prompt frames, MinHash
neighbours, same-minute activity) weigh at least ``ratio`` per account of the smaller campaign
— not the rented-pool kinds (IP prefixes, ASNs, TLS fingerprints, user agents, everyone's
sign-up path: two customers of one proxy provider share those and nothing else). A few
accounts alike by chance between two large campaigns do not tie them. And what they share
must be more than one common value: every distinct value the bridging edges name (a frame, a
card, a sign-up network, a burst; each pair for pair-wise kinds) counts once,
``1 − Π(1 − weight)``, and must reach ``min_evidence``. One phrase that two operators both
happen to use, held by many accounts, ties thirty pairs of their accounts, but it is one
phrase. Operators are the connected groups of tied campaigns.

Known misses: an operator that changes every owned attribute between campaigns (new cards,
new frames, new schedule) is split into two operators. Known false positives: two operators
buying accounts from the same account vendor (one batch of registrations) are joined.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from stillwatch.campaigns.cluster import NamedValues
from stillwatch.campaigns.judge import JudgeSettings, note_values, value_evidence

# The owned strength a member needs to stay in its cluster.
MIN_EVIDENCE = JudgeSettings.owned_strength


def bridges(
    edges: pd.DataFrame, named: NamedValues, campaign_of: dict[str, int]
) -> dict[tuple[int, int], tuple[float, float]]:
    """Per pair of campaigns: the owned weight of the edges (``edge_frame``'s) between their
    members, and the evidence of the distinct owned values those edges name (``named``; ``1 −
    Π(1 − weight)``, each value at its largest weight)."""
    ca = edges.a.map(campaign_of)
    cb = edges.b.map(campaign_of)
    mask = ca.notna() & cb.notna() & (ca != cb) & (edges.owned_weight > 0)
    total: dict[tuple[int, int], float] = {}
    values: dict[tuple[int, int], dict[str, float]] = {}
    for x, y, w, i in zip(ca[mask], cb[mask], edges.owned_weight[mask],
                          np.flatnonzero(mask.to_numpy()), strict=True):  # fmt: skip
        key = (int(min(x, y)), int(max(x, y)))
        total[key] = total.get(key, 0.0) + float(w)
        note_values(values.setdefault(key, {}), named.on_edge(int(i)))
    return {k: (t, value_evidence(values[k])) for k, t in total.items()}


def operator_groups(
    sizes: list[int],
    ties: dict[tuple[int, int], tuple[float, float]],
    ratio: float,
    min_evidence: float = MIN_EVIDENCE,
) -> np.ndarray:
    """Operator label per campaign (0..n-1) of the given sizes."""
    n_campaigns = len(sizes)
    if n_campaigns == 0:
        return np.zeros(0, dtype=np.int64)
    keep = [
        (a, b)
        for (a, b), (w, evidence) in ties.items()
        if w >= ratio * min(sizes[a], sizes[b]) and evidence >= min_evidence
    ]
    rows = [a for a, _ in keep]
    cols = [b for _, b in keep]
    graph = sparse.coo_matrix(([1] * len(keep), (rows, cols)), shape=(n_campaigns, n_campaigns))
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels, dtype=np.int64)
