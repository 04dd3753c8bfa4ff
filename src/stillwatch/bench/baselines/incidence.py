"""Accounts × the things they share (attribute values, timed actions), as a sparse 0/1 matrix:
the input of the graph baselines (FRAUDAR, SynchroTrap)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from scipy import sparse

from stillwatch.bench.dataset import Dataset


def account_incidence(
    dataset: Dataset,
    account_ids: np.ndarray,
    items_sql: str,
    key_columns: str,
    dtype: type = np.float64,
) -> sparse.csr_matrix:
    """Rows: ``account_ids`` in order; columns: the distinct items that ``items_sql`` (rows of
    ``account_id``, the item's ``key_columns``, among them its value ``v``) gives to them,
    numbered in the order of the keys. A row whose ``v`` is NULL is no item."""
    con = dataset.con
    seen = pa.table({"account_id": account_ids.astype(str), "row": np.arange(len(account_ids))})
    con.register("_seen", seen)
    try:
        pairs = con.sql(
            f"""
            WITH items AS (
                SELECT DISTINCT account_id, {key_columns} FROM ({items_sql}) WHERE v IS NOT NULL
            )
            SELECT s.row, dense_rank() OVER (ORDER BY {key_columns}) - 1 AS item
            FROM items i JOIN _seen s USING (account_id)
            """
        ).to_arrow_table()
    finally:
        con.unregister("_seen")
    rows = pairs.column("row").to_numpy()
    cols = pairs.column("item").to_numpy()
    n_items = int(cols.max()) + 1 if len(cols) else 0
    return sparse.csr_matrix(
        (np.ones(len(rows), dtype=dtype), (rows, cols)), shape=(len(account_ids), n_items)
    )
