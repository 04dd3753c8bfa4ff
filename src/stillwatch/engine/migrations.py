"""The store's schema as an ordered list of steps; a store is at the version of its last step.

A new store runs every step from the first; a store made by an earlier stillwatch runs the steps
after its version, in one transaction, when it is next opened for writing (so an error leaves it
as it was). A stage that needs a new table, column or index appends a :class:`Step` to
``STEPS`` with the next version number, lists the table in ``docs/store.md``, and registers any
column holding an account id in :mod:`stillwatch.engine.forget`. Steps are never edited once
released: a store out there is already past them. That is why the SQL below is written out, not
generated from :mod:`stillwatch.schema` (which describes only the latest version): a column
added to the schema needs a step that adds it (a test compares the two).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from stillwatch.engine.campaign_tables import CAMPAIGN_DDL
from stillwatch.engine.detection_tables import DETECTION_DDL
from stillwatch.engine.digest import row_digest
from stillwatch.engine.intel_tables import INTEL_DDL

APPLICATION = "stillwatch"


@dataclass(frozen=True)
class Step:
    """One change of the store's schema: ``version`` is the version the store has after it."""

    version: int
    summary: str
    statements: tuple[str, ...] = ()
    # For what SQL statements alone cannot say; runs after ``statements``.
    apply: Callable[[duckdb.DuckDBPyConnection], None] | None = None


_V1 = (
    "CREATE SEQUENCE ingest_id_seq START 1",
    "CREATE TABLE store_meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    """CREATE TABLE exchanges ("event_id" VARCHAR, "ts" TIMESTAMP, "account_id" VARCHAR,
        "api_key_id" VARCHAR, "end_user_id" VARCHAR, "conversation_id" VARCHAR,
        "turn_index" BIGINT, "ip" VARCHAR, "ip_hash" VARCHAR, "asn" BIGINT,
        "ip_country" VARCHAR, "user_agent" VARCHAR, "tls_fingerprint" VARCHAR, "model" VARCHAR,
        "endpoint" VARCHAR, "system_prompt" VARCHAR, "prompt" VARCHAR, "prompt_sha256" VARCHAR,
        "response" VARCHAR, "input_tokens" BIGINT, "output_tokens" BIGINT,
        "reasoning_tokens" BIGINT, "max_tokens" BIGINT, "temperature" DOUBLE,
        "tools_count" BIGINT, "thinking" BOOLEAN, "status" VARCHAR, "latency_ms" BIGINT,
        _ingest_id BIGINT, _truncated VARCHAR[])""",
    """CREATE TABLE accounts ("account_id" VARCHAR, "created_at" TIMESTAMP,
        "email_domain" VARCHAR, "payment_fingerprint" VARCHAR, "signup_ip" VARCHAR,
        "country" VARCHAR, "signup_path" VARCHAR, "org_name" VARCHAR, "verified" BOOLEAN,
        _ingest_id BIGINT, _row_hash VARCHAR)""",
    """CREATE TABLE accounts_history ("account_id" VARCHAR, "created_at" TIMESTAMP,
        "email_domain" VARCHAR, "payment_fingerprint" VARCHAR, "signup_ip" VARCHAR,
        "country" VARCHAR, "signup_path" VARCHAR, "org_name" VARCHAR, "verified" BOOLEAN,
        _ingest_id BIGINT, _row_hash VARCHAR, replaced_at TIMESTAMP, replaced_by_ingest BIGINT)""",
    """CREATE TABLE enforcements ("account_id" VARCHAR, "ts" TIMESTAMP, "action" VARCHAR,
        "api_key_id" VARCHAR, "reason" VARCHAR, _ingest_id BIGINT, _row_hash VARCHAR)""",
    """CREATE TABLE quarantine (ingest_id BIGINT, table_name VARCHAR, file VARCHAR, line BIGINT,
        reason VARCHAR, raw VARCHAR)""",
    """CREATE TABLE ingest_runs (
        ingest_id BIGINT PRIMARY KEY, run_id VARCHAR, table_name VARCHAR, file VARCHAR,
        format VARCHAR, content_sha256 VARCHAR, size_bytes BIGINT,
        rows_read BIGINT, accepted BIGINT, duplicates BIGINT, conflicts BIGINT,
        quarantined BIGINT, replaced BIGINT, truncated BIGINT, warnings VARCHAR[],
        started_at TIMESTAMP, finished_at TIMESTAMP)""",
    """CREATE TABLE forget_requests (
        account_sha256 VARCHAR, done_at TIMESTAMP, rows_deleted BIGINT, tables VARCHAR)""",
)

# The canonical columns each stored digest covers at version 2.
_V2_DIGESTS = {
    "accounts": ("account_id", "created_at", "email_domain", "payment_fingerprint", "signup_ip",
                 "country", "signup_path", "org_name", "verified"),
    "accounts_history": ("account_id", "created_at", "email_domain", "payment_fingerprint",
                         "signup_ip", "country", "signup_path", "org_name", "verified"),
    "enforcements": ("account_id", "ts", "action", "api_key_id", "reason"),
}  # fmt: skip


def _v2_digests(con: duckdb.DuckDBPyConnection) -> None:
    """Version 1 joined a row's values with chr(31) before hashing, so values holding that
    character made different rows look the same: recompute the stored digests."""
    for table, columns in _V2_DIGESTS.items():
        digest = row_digest(f'"{c}"' for c in columns)
        con.execute(f"UPDATE {table} SET _row_hash = {digest}")


STEPS: tuple[Step, ...] = (
    Step(1, "canonical tables, quarantine, ingest record, forget record", _V1),
    Step(
        2,
        "the store names its maker; row digests that no value can fake; each file's columns",
        (
            f"INSERT INTO store_meta VALUES ('application', '{APPLICATION}') "
            "ON CONFLICT DO NOTHING",
            "ALTER TABLE ingest_runs ADD COLUMN columns VARCHAR[]",
        ),
        _v2_digests,
    ),
    Step(
        3, "threat-intelligence sharing: bundles, indicators, match runs, matches", tuple(INTEL_DDL)
    ),
    Step(
        4,
        "detection: scans, account features and days, signals, link candidates, account scores",
        tuple(DETECTION_DDL),
    ),
    Step(
        5,
        "log dialects: the quarantined part of a record; each file's dialect, records, rows "
        "mapped, skipped parts and unmapped fields",
        (
            "ALTER TABLE quarantine ADD COLUMN part VARCHAR",
            "ALTER TABLE ingest_runs ADD COLUMN source VARCHAR",
            "ALTER TABLE ingest_runs ADD COLUMN account_from VARCHAR",
            "ALTER TABLE ingest_runs ADD COLUMN records_read BIGINT",
            "ALTER TABLE ingest_runs ADD COLUMN rows_mapped BIGINT",
            "ALTER TABLE ingest_runs ADD COLUMN skipped JSON",
            "ALTER TABLE ingest_runs ADD COLUMN unmapped JSON",
        ),
    ),
    Step(
        6,
        "campaigns: the account graph (links), campaigns, members, exchanges, operators",
        tuple(CAMPAIGN_DDL),
    ),
)
LATEST = STEPS[-1].version


def migrate(con: duckdb.DuckDBPyConnection, current: int) -> list[Step]:
    """Run the steps after version ``current``, in one transaction; returns the steps run."""
    todo = [s for s in STEPS if s.version > current]
    if not todo:
        return []
    con.execute("BEGIN TRANSACTION")
    try:
        for step in todo:
            for statement in step.statements:
                con.execute(statement)
            if step.apply is not None:
                step.apply(con)
        con.execute(
            """INSERT INTO store_meta VALUES ('schema_version', ?)
               ON CONFLICT (key) DO UPDATE SET value = excluded.value""",
            [str(LATEST)],
        )
        now = f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}"
        key, value = (
            ("created_at", now) if current == 0 else ("migrated_at", f"{now} from {current}")
        )
        con.execute(
            """INSERT INTO store_meta VALUES (?, ?)
               ON CONFLICT (key) DO UPDATE SET value = excluded.value""",
            [key, value],
        )
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return todo


def _check_steps() -> None:
    versions = [s.version for s in STEPS]
    assert versions == list(range(1, len(STEPS) + 1)), f"steps out of order: {versions}"


_check_steps()
