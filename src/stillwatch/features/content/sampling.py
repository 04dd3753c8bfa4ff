"""A bounded, deterministic sample of each account's prompts.

The content classifiers and MinHash read at most ``per_account`` prompts of each account: the
ones whose ``event_id`` hashes lowest (MD5), so the sample depends only on the ids, never on
row order, and the same exchange is picked in every run. Bias: none by time or content; an
account with fewer prompts keeps them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from stillwatch.engine.store import scratch_connection

PER_ACCOUNT = 200


def sample_select(source: str, per_account: int = PER_ACCOUNT, columns: str = "*") -> str:
    """A DuckDB query keeping ``columns`` of at most ``per_account`` rows per ``account_id``
    of ``source`` (a table or parenthesised query with ``event_id`` and ``account_id``)."""
    if int(per_account) < 1:
        raise ValueError(f"per_account must be at least 1, got {per_account}")
    return (
        f"SELECT {columns} FROM {source} QUALIFY row_number() OVER "
        f"(PARTITION BY account_id ORDER BY md5(event_id), event_id) <= {int(per_account)}"
    )


def sample_mask(
    event_ids: Sequence[str],
    account_ids: Sequence[str],
    per_account: int = PER_ACCOUNT,
    con: Any = None,
) -> np.ndarray:
    """Boolean mask over the rows: True for the rows in the sample."""
    if len(event_ids) != len(account_ids):
        raise ValueError(
            f"sample_mask: event_ids has {len(event_ids)} rows but account_ids has {len(account_ids)}"
        )
    rows = pa.table(  # noqa: F841 - read by DuckDB's replacement scan
        {
            "i": pa.array(np.arange(len(event_ids), dtype=np.int64)),
            "event_id": pa.array(list(event_ids), pa.string()),
            "account_id": pa.array(list(account_ids), pa.string()),
        }
    )
    own = con is None
    db = scratch_connection() if own else con
    try:
        kept = db.sql(sample_select("rows", per_account, "i")).fetchnumpy()["i"]
    finally:
        if own:
            db.close()
    mask = np.zeros(len(event_ids), dtype=bool)
    mask[np.asarray(kept, dtype=np.int64)] = True
    return mask
