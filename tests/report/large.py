"""A store holding one campaign of many accounts, written by SQL (no scan): 25,000 members,
each tied to 10 others in ``links``, two exchanges each. For checking that the pages and the
report open such a campaign with a capped graph; not detection data."""

from __future__ import annotations

from pathlib import Path

from stillwatch.engine.store import open_store

CAMPAIGN = "cmp-large00001"


def large_campaign_store(path: Path, members: int = 25_000, ties: int = 10) -> Path:
    with open_store(path) as store:
        c = store.con
        c.execute(
            """INSERT INTO scans (scan_id, started_at, finished_at, status)
               VALUES ('scan-large', now(), now(), 'done')"""
        )
        c.execute(
            f"""INSERT INTO exchanges (event_id, ts, account_id, model, ip, asn, prompt)
                SELECT 'ev' || i, TIMESTAMP '2026-04-22' + INTERVAL (i % 45) DAY
                       + INTERVAL (i % 24) HOUR, 'acct' || (i % {members}), 'm',
                       '198.51.' || (i % 200) || '.' || (i % 250), 16509,
                       'Solve problem ' || i || ' and show your complete reasoning'
                FROM range({2 * members}) t(i)"""
        )
        c.execute(
            f"""INSERT INTO campaigns (scan_id, campaign_id, operator_id, score, threshold,
                  status, accounts, accounts_low, accounts_high, exchanges, exchanges_low,
                  exchanges_high, member_exchanges, first_seen, first_seen_low,
                  first_seen_high, last_seen, last_seen_low, last_seen_high, evidence)
                VALUES ('scan-large', '{CAMPAIGN}', 'op-large', 0.9, 0.6, 'reported',
                  {members}, {members - 10}, {members + 10}, {2 * members}, {2 * members - 5},
                  {2 * members}, {2 * members}, DATE '2026-04-22', DATE '2026-04-22',
                  DATE '2026-04-22', DATE '2026-06-05', DATE '2026-06-05', DATE '2026-06-05',
                  '{{}}')"""
        )
        c.execute(
            f"""INSERT INTO campaign_members (scan_id, campaign_id, account_id, membership, role)
                SELECT 'scan-large', '{CAMPAIGN}', 'acct' || i,
                       CASE WHEN i % 5 = 0 THEN 0.6 ELSE 1.0 END,
                       CASE WHEN i % 5 = 0 THEN 'peripheral' ELSE 'core' END
                FROM range({members}) t(i)"""
        )
        c.execute(
            f"""INSERT INTO campaign_exchanges
                SELECT 'scan-large', '{CAMPAIGN}', event_id, account_id, CAST(ts AS DATE), 1.0
                FROM exchanges"""
        )
        c.execute(
            f"""INSERT INTO links (scan_id, link_id, account_id, weight, link_types)
                SELECT 'scan-large', 'l' || i || '-' || k, unnest(['acct' || i,
                       'acct' || ((i + 1 + k * 37) % {members})]), 0.5, ['payment']
                FROM range({members}) t(i), range({ties}) u(k)"""
        )
    return path
