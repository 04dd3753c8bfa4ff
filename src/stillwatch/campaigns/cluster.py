"""Leiden with the constant Potts model (CPM) over the account graph.

Why CPM and not modularity: modularity compares a cluster with what the whole graph's degree
sequence predicts, so in a large graph it merges small, dense rings into their neighbours (its
resolution limit); CPM asks only that a cluster's internal edge weight exceed ``resolution``
times its number of pairs, the same bar for a ring of five as for a network of thousands.
A fixed ``seed`` makes the partition repeatable. The optimiser is igraph's own Leiden (its C
core; the objective up to a constant is the ``leidenalg`` package's ``CPMVertexPartition``,
which this used before): on the large scale's graph (317,988 accounts, 3.8 million edges) two
passes take 4.6 s against 77 s and reach a slightly higher CPM quality.

Known limit: with the graph's hub caps (each account keeps its strongest ``top_k`` edges) a
very large campaign is sparse inside, and CPM may cut it into parts; :func:`merge_parts`
joins parts whose mutual ties are as strong as their own.

The parts, refined (``docs/campaigns.md`` section 2): :func:`merge_parts` joins a part to the
larger part it is firmly tied to; :func:`split_by_owned` splits a cluster into the
communities of its owned ties; :func:`rejoin_siblings` makes one again the parts tied to the
rest of their cluster taken together.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import igraph as ig
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components


def leiden_cpm(
    nodes: np.ndarray, edges: pd.DataFrame, resolution: float, seed: int = 11,
    iterations: int = 0,
) -> np.ndarray:  # fmt: skip
    """Community label per node (``nodes`` order), over edges ``a``, ``b``, ``weight``;
    ``iterations`` passes of the optimiser (0: until a pass improves nothing). CPM's quality
    is each community's inner edge weight less ``resolution`` times its squared size over two
    (igraph's form: a constant apart from the number of pairs, so the same partitions win)."""
    if len(nodes) == 0:
        return np.zeros(0, dtype=np.int64)
    index = pd.Index(nodes)
    a = index.get_indexer(edges.a)
    b = index.get_indexer(edges.b)
    keep = (a >= 0) & (b >= 0)
    # a list of pairs: igraph reads a NumPy array row by row (2.7 s of the large store's
    # 3.8 million edges; the same graph)
    graph = ig.Graph(n=len(nodes), edges=np.c_[a[keep], b[keep]].tolist(), directed=False)
    weights = edges.weight.to_numpy()[keep].astype(float).tolist()
    # igraph draws from one process-wide generator: a seeded one of our own for this call
    ig.set_random_number_generator(random.Random(seed))
    try:
        part = graph.community_leiden(
            objective_function="CPM", weights=weights, resolution=resolution,
            n_iterations=iterations or -1,
        )  # fmt: skip
    finally:
        ig.set_random_number_generator(random)
    return np.asarray(part.membership, dtype=np.int64)


@dataclass(frozen=True)
class NamedValues:
    """Every edge's owned values (``link.graph.owned_value_rows``) as flat arrays: row ``i``
    names value ``key[i]`` (a code into ``names``) of kind ``kind[i]`` (its link type:
    ``frame``, ``payment``…) at ``weight[i]`` on edge ``edge[i]``, rows ordered by edge (edge
    ``j``'s are ``starts[j]:starts[j + 1]``), so that the evidence of the distinct values a set
    of edges names is counted in NumPy, not edge by edge."""

    edge: np.ndarray
    key: np.ndarray
    weight: np.ndarray
    kind: np.ndarray
    names: np.ndarray
    starts: np.ndarray

    @classmethod
    def of(cls, owned_values: Sequence[Iterable[Mapping[str, Any]]]) -> NamedValues:
        """From each edge's values as ``{"key", "weight"}`` mappings."""
        edge: list[int] = []
        keys: list[str] = []
        weight: list[float] = []
        for i, named in enumerate(owned_values):
            for v in named:
                edge.append(i)
                keys.append(str(v["key"]))
                weight.append(float(v["weight"]))
        return cls.from_rows(np.asarray(edge, dtype=np.int64), pd.Series(keys, dtype=object),
                             np.asarray(weight, dtype=float), len(owned_values))  # fmt: skip

    @classmethod
    def from_rows(
        cls, edge: np.ndarray, keys: pd.Series, weight: np.ndarray, n_edges: int
    ) -> NamedValues:
        """From rows ordered by ``edge`` (``0 .. n_edges - 1``), as ``owned_value_rows``."""
        edge = np.asarray(edge, dtype=np.int64)
        codes, names = pd.factorize(keys) if len(keys) else (np.zeros(0, np.int64), [])
        codes = np.asarray(codes, dtype=np.int64)
        names = np.asarray(names, dtype=object)
        kinds = np.array([str(k).split(":", 1)[0] for k in names], dtype=object)
        starts = np.searchsorted(edge, np.arange(n_edges + 1))
        return cls(edge, codes, np.asarray(weight, dtype=float),
                   kinds[codes] if len(kinds) else kinds, names, starts)  # fmt: skip

    def on_edge(self, i: int) -> list[tuple[str, float]]:
        """Edge ``i``'s values as (key, weight)."""
        rows = range(int(self.starts[i]), int(self.starts[i + 1]))
        return [(str(self.names[self.key[r]]), float(self.weight[r])) for r in rows]

    def holders(
        self, a: np.ndarray, b: np.ndarray, kinds: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Who holds each value of ``kinds`` the edges (``a``, ``b``) name: (key code, node)
        pairs, one per holder, sorted by key then node. An account holds a value when one of
        its edges names it, whoever is at the other end."""
        rows = np.isin(self.kind, kinds)
        key = np.tile(self.key[rows], 2).astype(np.int64)
        node = np.concatenate([a[self.edge[rows]], b[self.edge[rows]]]).astype(np.int64)
        span = int(node.max()) + 1 if len(node) else 1
        pairs = np.unique(key * span + node)
        return pairs // span, pairs % span

    def subset(self, keep: np.ndarray) -> NamedValues:
        """The values of the edges ``keep`` (a mask over edges) holds, edges renumbered."""
        renumber = np.cumsum(keep) - 1
        rows = keep[self.edge]
        return NamedValues.from_rows(renumber[self.edge[rows]],
                                     pd.Series(self.names[self.key[rows]], dtype=object),
                                     self.weight[rows], int(keep.sum()))  # fmt: skip

    def evidence(self, groups: Sequence[np.ndarray], n: int) -> np.ndarray:
        """Per group ``0..n-1``, ``1 − Π(1 − weight)`` over the distinct values its edges name,
        each at its largest weight (``judge.value_evidence``). ``groups``: arrays giving, per
        edge, the group it adds to (or -1); an edge may add to one group in each array."""
        g = np.concatenate([grp[self.edge] for grp in groups])
        key = np.tile(self.key, len(groups))
        w = np.minimum(np.tile(self.weight, len(groups)), 0.999)
        keep = g >= 0
        g, key, w = g[keep], key[keep], w[keep]
        if not len(g):
            return np.zeros(n)
        order = np.lexsort((-w, key, g))
        g, key, w = g[order], key[order], w[order]
        first = np.r_[True, (g[1:] != g[:-1]) | (key[1:] != key[:-1])]
        return 1.0 - np.exp(np.bincount(g[first], np.log1p(-w[first]), minlength=n))


# The share of a part's members that must carry its ties to the cluster it joins (merge_parts).
MIN_CARRIERS = 0.05


def merge_parts(
    labels: np.ndarray, a: np.ndarray, b: np.ndarray, w: np.ndarray, owned: np.ndarray,
    ratio: float, min_part: int = 1,
    owned_values: NamedValues | None = None, min_evidence: float = 0.0,
) -> np.ndarray:  # fmt: skip
    """Join each cluster to the larger cluster it is most firmly tied to, when its owned ties
    to it weigh at least ``ratio`` times its own size (CPM can cut a large, sparse campaign
    into parts). A part joins only a larger one (ties: the lower label), one partner each, so
    no chain of small bridges joins two large groups: an app fleet and a campaign that two or
    three customers each half-resemble stay apart. Parts of fewer than ``min_part`` accounts
    are left alone: an account CPM left out is no part of anything.

    With ``owned_values`` (``edge_frame``'s), the ties must also name distinct owned values
    worth ``min_evidence`` (``judge.value_evidence``, the measure an outer account must reach
    to join): a group of customers who all paste the same public prompt shares that one frame
    with every campaign account that wraps it, a heavy tie made of one coincidence; the parts
    of one campaign share many of its frames, cards and networks.

    The ties must be carried by ``MIN_CARRIERS`` of the part's members or more: what one
    member shares with a campaign says where that member belongs, not the part, so when fewer
    carry them those members join the partner alone and the part stays. A class of
    students who signed up together from their university's network is a part tied by its
    sign-up batch; an operator's account registered in the same hour on the same university's
    domain sits in it, and its own frames and phrasing tie it to its campaign by more than
    the whole class weighs (`multi-operator` medium development seed 3: a class of 34 joined
    a campaign through one member, 2.6% of its part; on `hydra-loud` medium development seed
    2 parts of a campaign of 12 and 20 accounts are tied to the rest through one member, 5–8%,
    and 10% lost nine of their accounts)."""
    k = int(labels.max()) + 1 if len(labels) else 0
    if k == 0:
        return labels
    la, lb = labels[a], labels[b]
    cross = (la != lb) & owned & (la >= 0) & (lb >= 0)
    between = sparse.coo_matrix((w[cross], (la[cross], lb[cross])), shape=(k, k)).tocsr()
    between = (between + between.T).tocoo()
    size = np.bincount(labels[labels >= 0], minlength=k)
    me, other, tie = between.row, between.col, between.data
    larger = (size[other] > size[me]) | ((size[other] == size[me]) & (other < me))
    ok = larger & (tie >= ratio * size[me]) & (size[me] >= min_part)
    # each part's partner: its firmest tie to a larger part (equal ties: the lower label)
    me, other, tie = me[ok], other[ok], tie[ok]
    if owned_values is not None and min_evidence > 0 and len(me):
        evidence = _bridge_evidence(la, lb, cross, owned_values, me, other, k)
        firm = evidence >= min_evidence
        me, other, tie = me[firm], other[firm], tie[firm]
    order = np.lexsort((other, -tie, me))
    chooser, first = np.unique(me[order], return_index=True)
    partner = other[order][first]
    carried = _carriers(la, lb, a, b, cross, chooser, partner, k) >= MIN_CARRIERS * size[chooser]
    target = np.arange(k)
    target[chooser[carried]] = partner[carried]
    final = target.copy()
    for i in sorted(range(k), key=lambda x: (-size[x], x)):  # larger parts are settled first
        final[i] = final[target[i]]
    out = np.where(labels >= 0, final[np.maximum(labels, 0)], labels).astype(np.int64)
    # a part whose ties few of its members carry stays; those members go to its partner
    for side, far, node in ((la, lb, a), (lb, la, b)):
        alone = _pair_of_edge(side, far, cross, chooser[~carried], partner[~carried], k) >= 0
        out[node[alone]] = final[far[alone]]
    return out


def _pair_of_edge(
    x: np.ndarray, y: np.ndarray, cross: np.ndarray, me: np.ndarray, other: np.ndarray, k: int
) -> np.ndarray:
    """Per edge, the index ``i`` of the pair of clusters (``me[i]``, ``other[i]``) it runs
    between from its ``x`` side (each edge's cluster on one side: ``la`` or ``lb``) to its
    ``y`` side, among the edges ``cross``; -1 for none. Only the ``cross`` edges are looked
    up, not every edge of the graph."""
    out = np.full(len(x), -1, dtype=np.int64)
    pair = me.astype(np.int64) * k + other
    if not len(pair):
        return out
    order = np.argsort(pair)
    sorted_pair = pair[order]
    edges = np.flatnonzero(cross)
    code = x[edges].astype(np.int64) * k + y[edges]
    at = np.minimum(np.searchsorted(sorted_pair, code), len(pair) - 1)
    found = sorted_pair[at] == code
    out[edges[found]] = order[at[found]]
    return out


def _carriers(
    la: np.ndarray, lb: np.ndarray, a: np.ndarray, b: np.ndarray, cross: np.ndarray,
    me: np.ndarray, other: np.ndarray, k: int,
) -> np.ndarray:  # fmt: skip
    """For each pair of clusters (``me[i]``, ``other[i]``), how many of ``me[i]``'s members
    have an edge (``cross``) to ``other[i]``."""
    pairs, nodes = [], []
    for x, y, node in ((la, lb, a), (lb, la, b)):
        at = _pair_of_edge(x, y, cross, me, other, k)
        pairs.append(at[at >= 0])
        nodes.append(node[at >= 0].astype(np.int64))
    node = np.concatenate(nodes)
    span = int(node.max()) + 1 if len(node) else 1
    held = np.unique(np.concatenate(pairs) * span + node) // span  # each (pair, member) once
    return np.bincount(held, minlength=len(me))


def _bridge_evidence(
    la: np.ndarray, lb: np.ndarray, cross: np.ndarray, owned_values: NamedValues,
    me: np.ndarray, other: np.ndarray, k: int,
) -> np.ndarray:  # fmt: skip
    """For each pair of clusters (``me[i]``, ``other[i]``), the evidence of the distinct owned
    values the edges between them (``cross``) name."""
    group = _pair_of_edge(la, lb, cross, me, other, k)
    group = np.where(group < 0, _pair_of_edge(lb, la, cross, me, other, k), group)
    return owned_values.evidence([group], len(me))


def join_alike(
    labels: np.ndarray, a: np.ndarray, b: np.ndarray, owned_values: NamedValues,
    min_similarity: float, min_evidence: float, min_part: int = 3,
) -> np.ndarray:  # fmt: skip
    """Join clusters held together by the same owned values, wherever the graph cut them.

    A part's profile is, per owned value (a frame, a card, a sign-up network), the trusted
    weight of the part's inner edges that name it. Two parts of ``min_part`` accounts or more
    whose profiles have a cosine of ``min_similarity`` or more — most of what holds each
    together is what holds the other — and whose shared values are worth ``min_evidence``
    (``judge.value_evidence``) are one group, and so are chains of them.

    Why: a campaign of thousands whose frames each have thousands of holders is tied sparsely
    (``pairs.sparse_group_pairs``, a ring), and CPM, which asks a cluster for density, cuts the
    ring into arcs of a hundred accounts or so. An arc is tied to its two neighbours by a
    handful of edges, so neither :func:`merge_parts` (one firm partner) nor
    :func:`rejoin_siblings` (inside one Leiden cluster) joins them; but every arc is held
    together by the same frames (`hydra-loud` medium, development seed 1: 234 parts of one
    campaign, pairwise cosine ≥ 0.9 for 91% of pairs; at most 0.07 between a campaign's part
    and any other part, 0.007 between two campaigns' parts). Two operators share no owned
    value but a public phrase; a part whose inner ties are one-off pairs (near-duplicate
    prompts, same-minute activity) has a profile of values no one else names."""
    k = int(labels.max()) + 1 if len(labels) else 0
    if k == 0 or not len(owned_values.edge):
        return labels
    la, lb = labels[a], labels[b]
    edge = owned_values.edge
    inner = ((la == lb) & (la >= 0))[edge]
    part = la[edge[inner]]
    value = owned_values.key[inner]
    n_values = int(owned_values.key.max()) + 1
    profile = sparse.coo_matrix(
        (owned_values.weight[inner], (part, value)), shape=(k, n_values)
    ).tocsr()
    size = np.bincount(labels[labels >= 0], minlength=k)
    large = np.flatnonzero(size >= min_part)
    if len(large) < 2:
        return labels
    profile = profile[large]
    norm = np.sqrt(np.asarray(profile.multiply(profile).sum(axis=1)).ravel())
    unit = sparse.diags(np.divide(1.0, norm, out=np.zeros_like(norm), where=norm > 0)) @ profile
    cosine = (unit @ unit.T).tocoo()
    pick = (cosine.row < cosine.col) & (cosine.data >= min_similarity)
    p, q = cosine.row[pick], cosine.col[pick]
    if not len(p):
        return labels
    # the evidence of the values both hold, each at its largest weight
    strongest = np.zeros(n_values)
    np.maximum.at(strongest, owned_values.key, np.minimum(owned_values.weight, 0.999))
    held = (profile > 0).astype(np.float64).tocsr()
    log_miss = held @ sparse.diags(np.log1p(-strongest))
    shared = np.asarray(log_miss[p].multiply(held[q]).sum(axis=1)).ravel()
    firm = 1.0 - np.exp(shared) >= min_evidence
    p, q = large[p[firm]], large[q[firm]]
    graph = sparse.coo_matrix((np.ones(len(p)), (p, q)), shape=(k, k))
    _, group = connected_components(graph, directed=False)
    # each group takes the label of its largest part (ties: the lower label)
    order = np.lexsort((np.arange(k), -size))
    head = np.full(k, -1, dtype=np.int64)
    for c in order:
        if head[group[c]] < 0:
            head[group[c]] = c
    return np.where(labels >= 0, head[group[np.maximum(labels, 0)]], labels).astype(np.int64)


def split_by_owned(
    labels: np.ndarray, a: np.ndarray, b: np.ndarray, owned: np.ndarray,
    w: np.ndarray | None = None, min_tie: float = 0.0, resolution: float | None = None,
    seed: int = 11, iterations: int = 0,
) -> np.ndarray:  # fmt: skip
    """Split each cluster into the groups its owned ties make, over owned edges whose owned
    weight ``w`` is ``min_tie`` or more: a group tied to the rest of its cluster by rented-pool
    evidence (a proxy provider's ranges) and a few faint owned ties (one phrase two operators
    both happen to use) is another group.

    With ``resolution`` the groups are the Leiden CPM communities of those owned ties (weighted
    by ``w``) inside each cluster, so that a handful of firm ties between two dense groups (an
    app fleet whose customers signed up from the operator's networks three times) does not
    hold them together; without it, the connected parts. Communities of one cluster never
    take in another cluster's accounts."""
    n = len(labels)
    if n == 0:
        return labels
    keep = owned & (labels[a] == labels[b]) & (labels[a] >= 0)
    if w is not None:
        keep &= w >= min_tie
    if resolution is None or w is None:
        graph = sparse.coo_matrix((np.ones(int(keep.sum())), (a[keep], b[keep])), shape=(n, n))
        _, parts = connected_components(graph, directed=False)
    else:
        nodes = np.arange(n)
        sub = pd.DataFrame({"a": a[keep], "b": b[keep], "weight": w[keep]})
        parts = leiden_cpm(nodes, sub, resolution, seed, iterations)
    return np.where(labels >= 0, parts, -1).astype(np.int64)


def rejoin_siblings(
    parent: np.ndarray, labels: np.ndarray, a: np.ndarray, b: np.ndarray, w: np.ndarray,
    owned: np.ndarray, ratio: float, min_part: int = 2,
    owned_values: NamedValues | None = None, min_evidence: float = 0.0,
) -> np.ndarray:  # fmt: skip
    """Undo a split (``labels``, parts of the clusters ``parent``) for the parts that are
    firmly tied to the rest of their own cluster taken together: owned ties to the other parts
    kept in weigh at least ``ratio`` times the part's size and name distinct owned values worth
    ``min_evidence``. Parts that are not are taken out, one round at a time until the rest all
    are; the parts kept in each cluster become one again. Run after the one-partner joining,
    so that parts firmly tied to each other (an app fleet's) are judged as one group: each of
    them is tied to "the rest" through the others.

    :func:`merge_parts` asks for one partner a part is firmly tied to, and a campaign whose
    templates are shared by a thousand accounts (each frame then weighs little) comes out of
    the split as its cards, forty accounts each, each tied to all the others by a little
    (`hydra-loud`: a 30-account card group tied by 84 to the rest, by at most 5 to any one
    part). An app fleet held to a hydra by three firm ties, or customers who share one phrase
    with it, are not firmly tied to the rest taken together either, and stay apart. Parts of
    fewer than ``min_part`` accounts stay apart."""
    inside = (labels >= 0) & (parent >= 0)
    if not inside.any():
        return labels
    k = int(labels.max()) + 1
    size = np.bincount(labels[inside], minlength=k)
    # a part's cluster: the one most of its accounts came from (a joined part may span two)
    pairs = pd.DataFrame({"part": labels[inside], "parent": parent[inside]})
    mode = pairs.groupby(["part", "parent"]).size().reset_index(name="n")
    mode = mode.sort_values(["part", "n", "parent"], ascending=[True, False, True])
    mode = mode.drop_duplicates("part")
    part_parent = np.full(k, -1, dtype=np.int64)
    part_parent[mode.part.to_numpy()] = mode.parent.to_numpy()
    pa, pb = part_parent[np.maximum(labels[a], 0)], part_parent[np.maximum(labels[b], 0)]
    la, lb = labels[a], labels[b]
    sibling = owned & (la >= 0) & (lb >= 0) & (la != lb) & (pa == pb) & (pa >= 0)
    kept = size >= min_part
    while True:
        cross = sibling & kept[np.maximum(la, 0)] & kept[np.maximum(lb, 0)]
        tie = np.bincount(np.r_[la[cross], lb[cross]], np.r_[w[cross], w[cross]], minlength=k)
        firm = kept & (tie >= ratio * size) & (tie > 0)
        if owned_values is not None and min_evidence > 0:
            sides = [np.where(cross & firm[np.maximum(x, 0)], x, -1) for x in (la, lb)]
            firm &= owned_values.evidence(sides, k) >= min_evidence
        if np.array_equal(firm, kept):
            break
        kept = firm
    # the parts kept in each cluster take the label of the largest of them
    head = np.arange(k)
    for c in np.unique(part_parent[kept]).tolist():
        parts = np.flatnonzero(kept & (part_parent == c))
        if len(parts) > 1:
            head[parts] = parts[np.lexsort((parts, -size[parts]))[0]]
    return np.where(labels >= 0, head[np.maximum(labels, 0)], labels).astype(np.int64)
