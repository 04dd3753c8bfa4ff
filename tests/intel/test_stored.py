"""What the casebook says, as sharing reads it: allowlisted accounts and networks, dismissed
accounts, campaign verdicts (also for campaigns read from a file)."""

from __future__ import annotations

from pathlib import Path

from stillwatch.engine.casebook import now_text, open_casebook, read_casebook
from stillwatch.intel.shared import SharedCampaign
from stillwatch.intel.stored import decide_file_campaigns, decisions_from


def test_casebook_decisions(tmp_path: Path, campaigns: list[SharedCampaign]) -> None:
    book = tmp_path / "casebook.sqlite"
    first, second = campaigns[0].campaign_id, campaigns[1].campaign_id
    with open_casebook(book) as cb, cb.transaction() as c:
        for kind, entity, verdict in (("account", "acct-1", "dismissed"),
                                      ("account", "acct-2", "confirmed"),
                                      ("campaign", first, "confirmed"),
                                      ("campaign", second, "confirmed"),
                                      ("campaign", second, "dismissed")):  # fmt: skip
            c.execute(
                "INSERT INTO analyst_verdicts (ts, analyst, entity_kind, entity_id, verdict, note) "
                "VALUES (?, 'ana', ?, ?, ?, '')",
                (now_text(), kind, entity, verdict),
            )
        for kind, entity, account in (("account", "acct-3", "acct-3"),
                                      ("api_key", "key-9", "acct-4"),
                                      ("ip", "198.51.100.0/24", None)):  # fmt: skip
            c.execute(
                "INSERT INTO allowlist (entity_kind, entity, account_id, reason, added_by, "
                "added_at) VALUES (?, ?, ?, 'known', 'ana', ?)",
                (kind, entity, account, now_text()),
            )
    with read_casebook(book) as opened:
        decided = decisions_from(opened)
    assert decided.excluded_accounts == {"acct-1", "acct-3", "acct-4"}
    assert decided.allowlisted_address("198.51.100.7")
    assert not decided.allowlisted_address("198.51.101.7")
    assert not decided.allowlisted_address("2001:db8::1")
    assert decided.campaign_verdicts == {first: "confirmed", second: "dismissed"}  # latest stands
    kept, dismissed = decide_file_campaigns(campaigns, decided)
    assert dismissed == [second]
    marked = [c for c in kept if c.confirmed]
    assert [c.campaign_id for c in marked] == [first] and marked[0].confidence == 100
    assert len(kept) == len(campaigns) - 1
    with read_casebook(tmp_path / "none.sqlite") as missing:
        assert decisions_from(missing).excluded_accounts == frozenset()
