"""SynchroTrap-style synchrony clustering (Cao, Yang, Yu, Palow; CCS 2014).

An account's actions are (constraint value, time bucket) pairs: the network it came from
(IP prefix or ASN) and the client it used (TLS fingerprint), in fixed time buckets (the
paper matches actions on one constraint object within a time window).
Two accounts' similarity is the Jaccard index of their action sets; accounts joined by a
similarity at or above the threshold form clusters (connected components).

Defaults: actions on (ASN, TLS fingerprint) in one-hour buckets, over at least 10 shared
actions (chosen on development seed 1 of every scenario); similarity 0.2, chosen by the sweep
(``stillwatch.bench.sweep``, development seeds 1–2, docs/baselines.md) as the lowest whose
false positives stay within 100 per 10,000 legitimate accounts on every run. Proxies that rotate the
address on every request leave /24 prefixes with no synchrony to find, and pairs with a
handful of shared actions are coincidence, not coordination.

Catches: hydra networks load-balanced from shared proxies, many accounts busy on the same
egress in the same hours. Misses: residential IP rotation, accounts on disjoint schedules.
Known false positives: accounts behind one NAT or CGNAT address active in the same hours
(universities, mobile carriers), enterprise fleets on one cloud egress. Score: each
account's highest similarity to any other account.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from stillwatch.bench.baselines.account_groups import (
    accounts_seen,
    linked_groups,
    result_from_groups,
)
from stillwatch.bench.baselines.incidence import account_incidence
from stillwatch.bench.baselines.traffic_sql import ip_prefix
from stillwatch.bench.dataset import Dataset
from stillwatch.bench.method import MethodResult, check_choices, check_number

CONSTRAINTS: dict[str, str] = {
    "ip_prefix": ip_prefix(),
    "tls_fingerprint": "tls_fingerprint",
    "ip_prefix+tls_fingerprint": f"({ip_prefix()}) || ' ' || tls_fingerprint",
    "user_agent": "user_agent",
    "asn": "CAST(asn AS VARCHAR)",
    "asn+tls_fingerprint": "CAST(asn AS VARCHAR) || ' ' || tls_fingerprint",
}


class SynchroTrap:
    """Jaccard similarity of (constraint, time bucket) actions; clusters above a threshold."""

    name = "synchrotrap"
    version = "2"

    def __init__(
        self,
        constraints: tuple[str, ...] = ("asn+tls_fingerprint",),
        bucket_minutes: int = 60,
        min_similarity: float = 0.2,
        min_shared_buckets: int = 10,
        min_cluster_accounts: int = 3,
        max_accounts_per_action: int = 5000,
        chunk_accounts: int = 2000,
    ) -> None:
        self.constraints = tuple(constraints)
        self.bucket_minutes = bucket_minutes
        self.min_similarity = min_similarity
        self.min_shared_buckets = min_shared_buckets
        self.min_cluster_accounts = min_cluster_accounts
        self.max_accounts_per_action = max_accounts_per_action
        self.chunk_accounts = chunk_accounts
        check_choices("constraints", self.constraints, CONSTRAINTS)
        check_number("bucket_minutes", bucket_minutes, low=1, high=10_080, integer=True)
        check_number("min_similarity", min_similarity, low=0, high=1, low_open=True)
        check_number("min_shared_buckets", min_shared_buckets, low=1, high=1e9, integer=True)
        check_number("min_cluster_accounts", min_cluster_accounts, low=2, high=1e9, integer=True)
        check_number(
            "max_accounts_per_action", max_accounts_per_action, low=2, high=1e9, integer=True
        )
        check_number("chunk_accounts", chunk_accounts, low=1, high=1e9, integer=True)

    def params(self) -> dict[str, Any]:
        return {
            "constraints": list(self.constraints),
            "bucket_minutes": self.bucket_minutes,
            "min_similarity": self.min_similarity,
            "min_shared_buckets": self.min_shared_buckets,
            "min_cluster_accounts": self.min_cluster_accounts,
            "max_accounts_per_action": self.max_accounts_per_action,
        }

    def _actions(self, dataset: Dataset, account_ids: np.ndarray) -> sparse.csr_matrix:
        """Accounts × distinct (constraint, value, bucket) actions, as a 0/1 matrix."""
        per_constraint = " UNION ALL ".join(
            f"SELECT account_id, '{name}' AS c, {CONSTRAINTS[name]} AS v, "
            f"CAST(floor(epoch(ts) / {60 * self.bucket_minutes}) AS BIGINT) AS b FROM exchanges"
            for name in self.constraints
        )
        return account_incidence(dataset, account_ids, per_constraint, "c, v, b", np.float32)

    def run(self, dataset: Dataset) -> MethodResult:
        account_ids = accounts_seen(dataset)
        n = len(account_ids)
        actions = self._actions(dataset, account_ids)
        action_counts = np.asarray(actions.sum(axis=1)).ravel()
        # A hub action (thousands of accounts on one address in one hour) would make the
        # pair count quadratic; it is left out of the intersections but still counts in
        # each account's action total, so it can only lower a similarity.
        per_action = np.asarray(actions.sum(axis=0)).ravel()
        shared = actions[:, (per_action >= 2) & (per_action <= self.max_accounts_per_action)]
        shared_t = shared.T.tocsr()

        best = np.zeros(n)
        left: list[np.ndarray] = []
        right: list[np.ndarray] = []
        for start in range(0, n, self.chunk_accounts):
            stop = min(start + self.chunk_accounts, n)
            common = (shared[start:stop] @ shared_t).tocoo()
            i = common.row + start
            j = common.col
            keep = i != j
            i, j, inter = i[keep], j[keep], common.data[keep]
            similarity = inter / (action_counts[i] + action_counts[j] - inter)
            # Two accounts with one action each, shared once, are not synchrony: a pair counts
            # toward the score, as toward an edge, only with enough shared actions.
            enough = inter >= self.min_shared_buckets
            np.maximum.at(best, i[enough], similarity[enough])
            edge = enough & (similarity >= self.min_similarity)
            left.append(i[edge])
            right.append(j[edge])
        edges_l = np.concatenate(left) if left else np.zeros(0, dtype=np.int64)
        edges_r = np.concatenate(right) if right else np.zeros(0, dtype=np.int64)
        groups = linked_groups(n, edges_l, edges_r, self.min_cluster_accounts)
        return result_from_groups(dataset, account_ids, best, groups, self.name)
