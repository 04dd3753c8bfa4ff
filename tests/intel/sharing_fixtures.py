"""The fixture campaigns, a fixed test key, and export as the tests call it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stillwatch.intel.bundle import ExportOptions, export_bundle
from stillwatch.intel.indicators import SharingRules
from stillwatch.intel.keys import CommunityKey
from stillwatch.intel.shared import SharedCampaign

FIXTURES = Path(__file__).parent / "fixtures"
CAMPAIGNS = FIXTURES / "campaigns.json"
EXCLUDED = FIXTURES / "excluded.txt"
# A fixed key so golden files are stable; never a real community's key.
TEST_KEY = CommunityKey(bytes.fromhex("5a" * 16 + "c3" * 16))


def export(
    campaigns: list[SharedCampaign],
    *,
    tlp: str = "amber",
    allow_raw: bool = False,
    excluded: frozenset[str] = frozenset({"acct-106"}),
    min_confidence: int = 70,
    identity: str = "Provider A",
    key: CommunityKey = TEST_KEY,
) -> dict[str, Any]:
    options = ExportOptions(identity, tlp, min_confidence, SharingRules(allow_raw=allow_raw))
    return json.loads(export_bundle(campaigns, key, excluded, options).serialize())
