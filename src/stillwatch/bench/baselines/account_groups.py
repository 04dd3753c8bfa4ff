"""From groups of account indices to reported campaigns, the way every baseline does it.

Baselines do not classify exchanges, so a campaign's exchanges are all its accounts'
exchanges, reported as a point interval: a baseline claims no uncertainty it cannot measure.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from stillwatch.bench.baselines.traffic_sql import ACCOUNTS_SEEN
from stillwatch.bench.dataset import Dataset
from stillwatch.bench.method import AccountScores, Campaign, MethodResult


def accounts_seen(dataset: Dataset) -> np.ndarray:
    """Every account in the traffic or the accounts table, sorted."""
    ids = dataset.query(ACCOUNTS_SEEN).column("account_id").to_numpy(zero_copy_only=False)
    return np.asarray(ids, dtype=object)


def linked_groups(
    n_accounts: int, left: np.ndarray, right: np.ndarray, min_accounts: int
) -> list[np.ndarray]:
    """Connected components of the account graph with edges ``left[k]``–``right[k]``,
    holding at least ``min_accounts`` accounts, largest first."""
    graph = sparse.coo_matrix(
        (np.ones(len(left), dtype=np.int8), (left, right)), shape=(n_accounts, n_accounts)
    )
    _, labels = connected_components(graph, directed=False)
    sizes = np.bincount(labels)
    order = np.argsort(labels, kind="stable")
    bounds = np.cumsum(sizes)[:-1]
    groups = [g for g in np.split(order, bounds) if len(g) >= min_accounts]
    groups.sort(key=lambda g: (-len(g), int(g.min())))
    return groups


def campaigns_from_groups(
    dataset: Dataset, account_ids: np.ndarray, groups: Sequence[np.ndarray], method: str
) -> tuple[Campaign, ...]:
    """One campaign per group of account indices; each its own operator."""
    if not groups:
        return ()
    member_ids = np.concatenate([account_ids[g] for g in groups])
    group_of = np.concatenate([np.full(len(g), k) for k, g in enumerate(groups)])
    con = dataset.con
    con.register(
        "_campaign_members",
        pa.table({"account_id": member_ids.astype(str), "campaign": group_of}),
    )
    try:
        rows = con.execute(
            """
            SELECT m.campaign, count(e.account_id) AS exchanges,
                   min(CAST(e.ts AS DATE)) AS first_day, max(CAST(e.ts AS DATE)) AS last_day
            FROM _campaign_members m LEFT JOIN exchanges e USING (account_id)
            GROUP BY m.campaign
            """
        ).fetchall()
    finally:
        con.unregister("_campaign_members")
    activity = {int(r[0]): (int(r[1]), r[2], r[3]) for r in rows}
    campaigns = []
    for k, group in enumerate(groups):
        exchanges, first, last = activity[k]
        if first is None:  # accounts without traffic: nothing to date the campaign by
            continue
        campaigns.append(
            Campaign(
                accounts=tuple(str(a) for a in account_ids[group]),
                estimated_accounts=len(group),
                estimated_exchanges=exchanges,
                exchanges_interval=(exchanges, exchanges),
                first_day=first,
                last_day=last,
                operator_id=f"{method}:{k}",
            )
        )
    return tuple(campaigns)


def result_from_groups(
    dataset: Dataset,
    account_ids: np.ndarray,
    scores: np.ndarray,
    groups: Sequence[np.ndarray],
    method: str,
) -> MethodResult:
    return MethodResult(
        AccountScores(account_ids, np.clip(scores, 0.0, 1.0)),
        campaigns_from_groups(dataset, account_ids, groups, method),
    )
