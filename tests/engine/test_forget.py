"""forget: an account's quarantined rows go, other accounts' stay."""

from __future__ import annotations

from stillwatch.engine.forget import forget_account
from stillwatch.engine.store import Store


def test_forget_quarantine_matches_the_account_not_a_pattern(store: Store) -> None:
    raws = [
        '{"account_id": "acct_1", "ts": "bad"}',  # the account's: goes
        '{"account_id": "acct_10", "ts": "bad"}',  # another account whose id contains it
        '{"account_id": "acctX1", "ts": "bad"}',  # "_" is no wildcard
        '{"account_id": "acct_2", "prompt": "ask acct_1 about it"}',  # only mentions it
        "not json at all, acct_1 somewhere",  # no account field: the id in it is enough
        "not json, acct_3",
    ]
    for line, raw in enumerate(raws, 1):
        store.con.execute(
            "INSERT INTO quarantine VALUES (1, 'exchanges', 'f.jsonl', ?, 'r', ?)", [line, raw]
        )
    deleted = forget_account(store, "acct_1")
    assert deleted["quarantine"] == 2
    kept = [r[0] for r in store.sql("SELECT line FROM quarantine ORDER BY line")]
    assert kept == [2, 3, 4, 6]
