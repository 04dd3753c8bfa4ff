"""Match: which of our accounts carry a partner's indicators, with counts and kinds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stillwatch.engine.forget import forget_account
from stillwatch.engine.store import Store
from stillwatch.intel.intake import import_bundle
from stillwatch.intel.keys import CommunityKey
from stillwatch.intel.match import account_summary, match_indicators
from stillwatch.intel.shared import SharedCampaign
from tests.ingest.helpers import run, write_jsonl
from tests.intel.sharing_fixtures import export

NODE20 = "t13d1516h2_8daaf6152771_02713d6af862"
GO = "t13d1311h2_f57a46bbacb6_ab7e3b40a677"


def _grader(campaigns: list[SharedCampaign]) -> str:
    return campaigns[0].members[0].prompts[0]


def _ours(tmp_path: Path, campaigns: list[SharedCampaign]) -> tuple[Path, Path]:
    """Our traffic: one account on the partner's template and network, one paraphrasing it,
    one slightly further off, one unrelated."""
    grader = _grader(campaigns)
    template = (
        grader.split("Question: ")[0]
        + "Question: {q}\n\nCandidate answer: {a}\n\n"
        + grader.split("\n\n")[-1]
    )
    paraphrase = template.replace("the candidate answer below", "the proposed answer below")
    further = template.replace("You are a strict grader.", "You are a meticulous, strict grader.")
    rows: list[dict[str, Any]] = []

    def add(account: str, n: int, prompt: str, ip: str, tls: str) -> None:
        for i in range(n):
            rows.append({
                "event_id": f"{account}-{i}", "ts": f"2026-05-0{1 + i % 9}T10:00:00Z",
                "account_id": account, "model": "frontier-1", "ip": ip, "tls_fingerprint": tls,
                "prompt": prompt.format(q=f"question number {i} about topic {i * 7}", a=f"answer {i}"),
            })  # fmt: skip

    add("ours-copy", 4, template, "198.51.100.201", NODE20)
    add("ours-paraphrase", 3, paraphrase, "192.0.2.10", GO)
    add("ours-further", 2, further, "192.0.2.11", GO)
    add(
        "ours-plain",
        5,
        "Summarise this meeting transcript for me: {q} {a} thanks a lot",
        "203.0.113.9",
        GO,
    )
    accounts = [
        {"account_id": "ours-copy", "email_domain": "QuillFarm-Mail.example"},
        {"account_id": "ours-plain", "email_domain": "gmail.com"},
    ]
    return write_jsonl(tmp_path / "ex.jsonl", rows), write_jsonl(tmp_path / "acc.jsonl", accounts)


def _setup(
    store: Store, tmp_path: Path, campaigns: list[SharedCampaign], key: CommunityKey
) -> None:
    ex, acc = _ours(tmp_path, campaigns)
    run(store, ex, accounts=[acc])
    raw = json.dumps(export(campaigns, allow_raw=True)).encode()
    import_bundle(store, raw, "partner.json", key, max_bytes=1 << 20, max_nesting=32)


def test_match_finds_the_overlap_with_counts_and_kinds(
    store: Store, tmp_path: Path, campaigns: list[SharedCampaign], key: CommunityKey
) -> None:
    _setup(store, tmp_path, campaigns, key)
    summary = match_indicators(store, key, 0.8)
    found = {(r["account_id"], r["kind"], r["encoding"]): r["exchanges"] for r in summary.rows}
    assert found == {
        ("ours-copy", "ip-prefix/1", "raw"): 4,
        ("ours-copy", "email-domain/1", "raw"): 4,
        ("ours-copy", "tls-ja4/1", "keyed-hash"): 4,
        ("ours-copy", "prompt-skeleton/1", "keyed-hash"): 4,
        ("ours-copy", "prompt-skeleton/1", "keyed-minhash"): 4,
        ("ours-paraphrase", "prompt-skeleton/1", "keyed-minhash"): 3,
    }
    (para,) = [r for r in summary.rows if r["account_id"] == "ours-paraphrase"]
    assert 0.8 <= float(para["similarity"]) < 1.0  # type: ignore[arg-type]
    per = {a["account_id"]: a for a in account_summary(summary.rows)}
    assert per["ours-copy"]["indicators"] == 5 and per["ours-copy"]["partner_campaigns"] == 2
    # a looser threshold also takes the account that strays further from the frame
    looser = match_indicators(store, key, 0.7)
    assert "ours-further" in looser.accounts and "ours-plain" not in looser.accounts


def test_matches_accumulate_and_forget_removes_an_account(
    store: Store, tmp_path: Path, campaigns: list[SharedCampaign], key: CommunityKey
) -> None:
    _setup(store, tmp_path, campaigns, key)
    first = match_indicators(store, key, 0.8)
    second = match_indicators(store, key, 0.8)
    assert first.match_run_id != second.match_run_id
    runs = store.sql("SELECT match_run_id, count(*) FROM intel_matches GROUP BY 1")
    assert sorted(n for _, n in runs) == [6, 6]  # a second run never wipes the first
    assert store.scalar("SELECT count(*) FROM intel_match_runs") == 2
    forget_account(store, "ours-copy")
    assert store.scalar("SELECT count(*) FROM intel_matches WHERE account_id = 'ours-copy'") == 0
    assert store.scalar("SELECT count(*) FROM intel_matches") == 2


def test_indicators_of_another_key_are_not_compared(
    store: Store, tmp_path: Path, campaigns: list[SharedCampaign], key: CommunityKey
) -> None:
    _setup(store, tmp_path, campaigns, key)
    other = CommunityKey(b"\x09" * 32)
    summary = match_indicators(store, other, 0.8)
    # only the raw (unkeyed) indicators can be read without the key they were made with
    assert {r["encoding"] for r in summary.rows} == {"raw"}
