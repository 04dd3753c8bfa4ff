"""Privacy requests: delete every row about one account, and record that it was done."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from stillwatch.engine.store import ACCOUNT_ROWS, Store

# A quarantined row is the account's when its raw text is a JSON object naming the account;
# raw text that is not (a line that is not JSON, a broken CSV record) is the account's when it
# holds the id anywhere: too much is deleted rather than too little.
_NAMES_ACCOUNT = """coalesce(try(json_extract_string(raw, '$.account_id')),
                             CASE WHEN contains(raw, $1) THEN $1 END) = $1"""


def forget_account(store: Store, account_id: str) -> dict[str, int]:
    """Delete the account's rows everywhere (quarantined rows naming it too); returns counts.

    The request is recorded by the SHA-256 of the id, not the id itself. A checkpoint
    follows, so the deleted rows do not linger in the write-ahead log.
    """
    deleted: dict[str, int] = {}
    with store.transaction():
        for table, column in ACCOUNT_ROWS.items():
            n = store.scalar(f'SELECT count(*) FROM {table} WHERE "{column}" = ?', [account_id])
            store.con.execute(f'DELETE FROM {table} WHERE "{column}" = ?', [account_id])
            deleted[table] = int(n)
        deleted["quarantine"] = int(
            store.scalar(f"SELECT count(*) FROM quarantine WHERE {_NAMES_ACCOUNT}", [account_id])
        )
        store.con.execute(f"DELETE FROM quarantine WHERE {_NAMES_ACCOUNT}", [account_id])
        total = sum(deleted.values())
        store.con.execute(
            "INSERT INTO forget_requests VALUES (?, ?, ?, ?)",
            [
                hashlib.sha256(account_id.encode()).hexdigest(),
                datetime.now(UTC).replace(tzinfo=None),
                total,
                ",".join(t for t, n in deleted.items() if n),
            ],
        )
    store.con.execute("CHECKPOINT")
    return deleted
