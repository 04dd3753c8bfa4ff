"""Leiden with the constant Potts model (CPM) over the account graph.

Why CPM and not modularity: modularity compares a cluster with what the whole graph's degree
sequence predicts, so in a large graph it merges small, dense rings into their neighbours (its
resolution limit); CPM asks only that a cluster's internal edge weight exceed ``resolution``
times its number of pairs, the same bar for a ring of five as for a network of thousands.
A fixed ``seed`` makes the partition repeatable.

Known limit: with the graph's hub caps (each account keeps its strongest ``top_k`` edges) a
very large campaign is sparse inside, and CPM may cut it into parts; :func:`merge_parts`
joins parts whose mutual ties are as strong as their own.
"""

from __future__ import annotations

import igraph as ig
import leidenalg
import numpy as np
import pandas as pd


def leiden_cpm(
    nodes: np.ndarray, edges: pd.DataFrame, resolution: float, seed: int = 11
) -> np.ndarray:
    """Community label per node (``nodes`` order), over edges ``a``, ``b``, ``weight``."""
    if len(nodes) == 0:
        return np.zeros(0, dtype=np.int64)
    index = pd.Index(nodes)
    a = index.get_indexer(edges.a)
    b = index.get_indexer(edges.b)
    keep = (a >= 0) & (b >= 0)
    graph = ig.Graph(n=len(nodes), edges=np.c_[a[keep], b[keep]].tolist(), directed=False)
    graph.es["weight"] = edges.weight.to_numpy()[keep].astype(float).tolist()
    part = leidenalg.find_partition(
        graph,
        leidenalg.CPMVertexPartition,
        weights="weight",
        resolution_parameter=resolution,
        n_iterations=-1,
        seed=seed,
    )
    return np.asarray(part.membership, dtype=np.int64)
