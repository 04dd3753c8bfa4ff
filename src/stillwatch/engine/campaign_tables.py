"""The tables the link and campaign stages write (issue 11), in one block of DDL of their own.

Kept apart from the canonical and detection tables' DDL so that it becomes one migration step
when the store's schema versioning lands. Every column is documented in ``docs/store.md``
("Campaign tables"); every table here holding an account id is registered for ``forget``
(``CAMPAIGN_ACCOUNT_ROWS``).
"""

from __future__ import annotations

CAMPAIGN_DDL = [
    """CREATE TABLE IF NOT EXISTS links (
        scan_id VARCHAR, link_id VARCHAR, account_id VARCHAR, weight DOUBLE,
        link_types VARCHAR[], evidence JSON)""",
    """CREATE TABLE IF NOT EXISTS campaigns (
        scan_id VARCHAR, campaign_id VARCHAR, operator_id VARCHAR, score DOUBLE,
        threshold DOUBLE, status VARCHAR,
        accounts BIGINT, accounts_low BIGINT, accounts_high BIGINT,
        exchanges BIGINT, exchanges_low BIGINT, exchanges_high BIGINT,
        member_exchanges BIGINT,
        first_seen DATE, first_seen_low DATE, first_seen_high DATE,
        last_seen DATE, last_seen_low DATE, last_seen_high DATE,
        capabilities JSON, infrastructure JSON, api_keys JSON, end_users JSON,
        evidence JSON, first_scan_id VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS campaign_members (
        scan_id VARCHAR, campaign_id VARCHAR, account_id VARCHAR, membership DOUBLE,
        role VARCHAR, campaign_share DOUBLE, signals JSON)""",
    """CREATE TABLE IF NOT EXISTS campaign_exchanges (
        scan_id VARCHAR, campaign_id VARCHAR, event_id VARCHAR, account_id VARCHAR,
        day DATE, confidence DOUBLE)""",
    """CREATE TABLE IF NOT EXISTS operators (
        scan_id VARCHAR, operator_id VARCHAR, campaigns BIGINT, evidence JSON,
        first_scan_id VARCHAR)""",
]

# Result tables written under a scan_id, in the order a scan writes them.
CAMPAIGN_RESULT_TABLES = ("links", "campaigns", "campaign_members", "campaign_exchanges",
                          "operators")  # fmt: skip

CAMPAIGN_ACCOUNT_ROWS = {t: "account_id" for t in ("links", "campaign_members",
                                                   "campaign_exchanges")}  # fmt: skip
