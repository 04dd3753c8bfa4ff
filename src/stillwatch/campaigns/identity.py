"""Campaign and operator ids that stay the same across re-scans of a growing store.

Rules (``docs/campaigns.md``):

- **Grows**: a campaign of this scan that holds at least ``KEEP_SHARE`` of a previous
  campaign's members (or the previous campaign holds that share of it) takes its id.
- **Merges**: when it holds that share of several previous campaigns, it takes the id of the
  one it shares most members with (ties: the one first reported earlier, then the smaller
  id); the others are listed in its evidence as ``merged_ids``.
- **Splits**: of the parts of a previous campaign, the part holding most of its members keeps
  the id; the others get new ids and name it in ``split_from``.
- **New**: ``cmp-`` and the first 10 hex digits of the SHA-256 of its sorted member ids; an
  operator ``op-`` likewise over its campaigns' ids. The same data and settings give the same
  ids.

Each previous id goes to at most one campaign; pairs are matched greedily, most shared members
first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

KEEP_SHARE = 0.5


def digest_id(prefix: str, members: Sequence[str]) -> str:
    text = "\0".join(sorted(members))
    return f"{prefix}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def carry_ids(
    new: dict[int, set[str]],
    previous: dict[str, set[str]],
    first_scan: dict[str, str],
) -> tuple[dict[int, str], dict[int, dict[str, list[str]]]]:
    """Ids for the new clusters (key → member set) given the previous scan's campaigns
    (id → member set, id → the scan that first reported it). Returns key → id and key →
    lineage notes (``merged_ids``, ``split_from``)."""
    pairs = []
    for k, members in new.items():
        for pid, old in previous.items():
            shared = len(members & old)
            if shared and shared >= KEEP_SHARE * min(len(old), len(members)):
                pairs.append((-shared, first_scan.get(pid) or "", pid, k))
    pairs.sort()
    ids: dict[int, str] = {}
    taken: set[str] = set()
    notes: dict[int, dict[str, list[str]]] = {k: {} for k in new}
    for _, _, pid, k in pairs:
        if k in ids:
            if pid not in taken:
                notes[k].setdefault("merged_ids", []).append(pid)
                taken.add(pid)
            continue
        if pid in taken:
            notes[k].setdefault("split_from", []).append(pid)
            continue
        ids[k] = pid
        taken.add(pid)
    for k, members in new.items():
        if k not in ids:
            ids[k] = digest_id("cmp", sorted(members))
    return ids, notes
