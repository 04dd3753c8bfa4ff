"""Partners' bundles into the store: ``intel_bundles`` (one row per bundle file, with
provenance) and ``intel_indicators`` (one row per producer and indicator, its latest version).

Import is idempotent: a bundle whose bytes were imported before changes nothing; an indicator
seen again is updated only when its ``modified`` is newer. Everything of one bundle is written
in one transaction, after the whole bundle has passed ``validate``, so a rejected bundle
stores nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from stillwatch.engine.store import Store
from stillwatch.intel.keys import CommunityKey
from stillwatch.intel.validate import ValidBundle, validate_bundle


@dataclass(frozen=True)
class ImportResult:
    source: str
    content_sha256: str
    already_imported: bool
    bundle_id: str
    producer: str
    tlp: str | None
    indicators: int
    indicators_new: int
    indicators_updated: int


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _naive(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t


def import_bundle(
    store: Store,
    raw: bytes,
    source: str,
    key: CommunityKey,
    *,
    max_bytes: int,
    max_nesting: int,
) -> ImportResult:
    """Validate ``raw`` and store it; a BundleRejected error stores nothing."""
    sha = hashlib.sha256(raw).hexdigest()
    if len(raw) <= max_bytes:
        earlier = store.sql(
            "SELECT bundle_id, producer_name, tlp, indicators FROM intel_bundles WHERE content_sha256 = ?",
            [sha],
        )
        if earlier:
            bundle_id, producer, tlp, n = earlier[0]
            return ImportResult(source, sha, True, bundle_id, producer, tlp, int(n), 0, 0)
    valid = validate_bundle(raw, source, key, max_bytes=max_bytes, max_nesting=max_nesting)
    with store.transaction():
        new, updated = _write_indicators(store, valid, sha)
        store.con.execute(
            "INSERT INTO intel_bundles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [sha, valid.bundle_id, source, valid.producer_id, valid.producer_name, valid.tlp,
             valid.objects, valid.campaigns, len(valid.indicators), new, updated, _now()],
        )  # fmt: skip
    return ImportResult(
        source, sha, False, valid.bundle_id, valid.producer_name, valid.tlp,
        len(valid.indicators), new, updated,
    )  # fmt: skip


def _write_indicators(store: Store, valid: ValidBundle, sha: str) -> tuple[int, int]:
    stored = dict(
        store.sql(
            "SELECT indicator_id, modified FROM intel_indicators WHERE producer_id = ?",
            [valid.producer_id],
        )
    )
    new = updated = 0
    now = _now()
    for ind in valid.indicators:
        modified = _naive(ind.modified)
        row = [
            valid.producer_id, ind.stix_id, ind.kind, ind.encoding, ind.key_id, ind.value,
            list(ind.campaign_refs), ind.confidence, ind.partner_accounts, ind.tlp,
            _naive(ind.valid_from), modified, sha, now,
        ]  # fmt: skip
        if ind.stix_id not in stored:
            store.con.execute(
                f"INSERT INTO intel_indicators VALUES ({', '.join('?' * len(row))})", row
            )
            new += 1
        elif modified > stored[ind.stix_id]:
            store.con.execute(
                """INSERT INTO intel_indicators VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (producer_id, indicator_id) DO UPDATE SET
                   kind = excluded.kind, encoding = excluded.encoding, key_id = excluded.key_id,
                   value = excluded.value, campaign_refs = excluded.campaign_refs,
                   confidence = excluded.confidence, partner_accounts = excluded.partner_accounts,
                   tlp = excluded.tlp, valid_from = excluded.valid_from,
                   modified = excluded.modified, bundle_sha256 = excluded.bundle_sha256,
                   imported_at = excluded.imported_at""",
                row,
            )
            updated += 1
    return new, updated
