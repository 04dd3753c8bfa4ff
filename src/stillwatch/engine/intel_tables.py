"""The store tables of threat-intelligence sharing (issue 14), in one block of DDL kept apart
from the canonical tables so it becomes one migration step. Listed in ``docs/store.md``."""

from __future__ import annotations

INTEL_DDL = [
    """CREATE TABLE IF NOT EXISTS intel_bundles (
        content_sha256 VARCHAR PRIMARY KEY, bundle_id VARCHAR, source VARCHAR,
        producer_id VARCHAR, producer_name VARCHAR, tlp VARCHAR, objects BIGINT,
        campaigns BIGINT, indicators BIGINT, indicators_new BIGINT,
        indicators_updated BIGINT, imported_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS intel_indicators (
        producer_id VARCHAR, indicator_id VARCHAR, kind VARCHAR, encoding VARCHAR,
        key_id VARCHAR, value VARCHAR, campaign_refs VARCHAR[], confidence INTEGER,
        partner_accounts BIGINT, tlp VARCHAR, valid_from TIMESTAMP, modified TIMESTAMP,
        bundle_sha256 VARCHAR, imported_at TIMESTAMP,
        PRIMARY KEY (producer_id, indicator_id))""",
    """CREATE TABLE IF NOT EXISTS intel_match_runs (
        match_run_id VARCHAR PRIMARY KEY, started_at TIMESTAMP, finished_at TIMESTAMP,
        key_id VARCHAR, indicators_read BIGINT, accounts_matched BIGINT, matches BIGINT)""",
    """CREATE TABLE IF NOT EXISTS intel_matches (
        match_run_id VARCHAR, account_id VARCHAR, producer_id VARCHAR, indicator_id VARCHAR,
        kind VARCHAR, encoding VARCHAR, exchanges BIGINT, similarity DOUBLE,
        partner_campaign_refs VARCHAR[])""",
]

# Tables holding an account id, for ``forget``.
INTEL_ACCOUNT_ROWS = {"intel_matches": "account_id"}
