"""One contract over every registered detector: scores in range, deterministic, unchanged by
shuffled rows, empty in → empty out, evidence keys present (the content detectors included, on the real
content package)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import ibis
import pytest

from stillwatch.detectors.base import FAMILIES, Detector, DetectorOutput, ScanContext
from stillwatch.detectors.registry import detectors
from stillwatch.engine.store import Store, open_store
from stillwatch.features.sources import Sources
from stillwatch.pipeline import store_inputs
from tests.detectors.conftest import ingest_folder
from tests.planted import Planted

IDS = [d.id for d in detectors()]


_CONTEXTS: dict[int, tuple[Sources, object, frozenset[str], object]] = {}


def _context(store: Store) -> ScanContext:
    """A scan context over the store's own tables (features computed in memory, once)."""
    if id(store) in _CONTEXTS:
        src, features, present, table = _CONTEXTS[id(store)]
        return ScanContext(src, features.copy(), present, {}, features_table=table)  # type: ignore[attr-defined]
    from stillwatch.features.account import account_features

    con = store.ibis()
    src = Sources.from_backend(con)
    features = account_features(src).to_pandas().sort_values("account_id", kind="stable")
    features = features.reset_index(drop=True)
    table = ibis.memtable(features)
    present = frozenset(store_inputs(store)["present"])
    _CONTEXTS[id(store)] = (src, features, present, table)
    return ScanContext(src, features, present, {}, features_table=table)


def _partner_matches(store: Store) -> None:
    """A partner's indicators matched to the planted campaign's accounts (what
    ``stillwatch intel match`` writes), so ``intel.matches`` has something to read."""
    accounts = [r[0] for r in store.sql(
        "SELECT DISTINCT account_id FROM exchanges WHERE account_id LIKE 'acct_campaign_%' "
        "ORDER BY account_id")]  # fmt: skip
    rows = []
    for i, account in enumerate(accounts):
        rows.append(["intel-match-20260101T000000-00000000", account, "identity--p", "indicator--f",
                     "prompt-skeleton/1", "keyed-minhash", 10 + i, 0.8 + 0.2 * (i % 2), ["campaign--c"]])  # fmt: skip
        if i % 3 == 0:
            rows.append(["intel-match-20260101T000000-00000000", account, "identity--p", "indicator--t",
                         "tls-ja4/1", "keyed-hash", 5, None, ["campaign--c"]])  # fmt: skip
    store.con.executemany("INSERT INTO intel_matches (match_run_id, account_id, producer_id, "
                          "indicator_id, kind, encoding, exchanges, similarity, "
                          "partner_campaign_refs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)  # fmt: skip


@pytest.fixture(scope="module")
def stores(
    planted_data: Planted, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Store]]:
    root = tmp_path_factory.mktemp("contract")
    out = {}
    for name, shuffle in (("ordered", None), ("shuffled", 3)):
        folder = planted_data.write(root / name, shuffle_seed=shuffle)
        store = open_store(root / f"{name}.duckdb")
        ingest_folder(store, folder)
        _partner_matches(store)
        out[name] = store
    out["empty"] = open_store(root / "empty.duckdb")
    yield out
    for s in out.values():
        s.close()


def _run(d: Detector, store: Store) -> DetectorOutput:
    ctx = _context(store)
    for dep in getattr(d, "after", ()):
        dep_out = next(x for x in detectors() if x.id == dep).run(ctx)
        ctx.note_links(dep_out.links)
    return d.run(ctx)


def _as_rows(out: DetectorOutput) -> list[tuple[str, float, str]]:
    f = out.frame()
    return [
        (a, round(s, 9), repr(sorted(e.items())))
        for a, s, e in zip(f.account_id, f.score, f.evidence, strict=True)
    ]


@pytest.mark.parametrize("detector_id", IDS)
def test_detector_contract(detector_id: str, stores: dict[str, Store]) -> None:
    d = next(x for x in detectors() if x.id == detector_id)
    assert d.family in FAMILIES
    assert d.description and d.false_positives and d.version
    first = _run(d, stores["ordered"])
    rows = _as_rows(first)
    assert rows, f"{d.id} found nothing in the planted data"
    assert all(0 < s <= 1 for _, s, _ in rows)
    assert len({a for a, _, _ in rows}) == len(rows)
    for e in first.evidence:
        assert set(d.evidence_keys) <= set(e), (
            f"{d.id}: evidence lacks {set(d.evidence_keys) - set(e)}"
        )
    assert _as_rows(_run(d, stores["ordered"])) == rows, "not deterministic"
    assert _as_rows(_run(d, stores["shuffled"])) == rows, "changed by shuffled input rows"
    shuffled_links = sorted((lk.link_id, lk.weight) for lk in _run(d, stores["shuffled"]).links)
    assert shuffled_links == sorted((lk.link_id, lk.weight) for lk in first.links)
    assert _as_rows(_run(d, stores["empty"])) == []


def test_detectors_list_every_family_and_unique_ids() -> None:
    assert len(IDS) == len(set(IDS))
    assert {d.family for d in detectors()} == set(FAMILIES)


def test_planted_campaign_is_found_and_look_alikes_are_not(scanned: tuple[Store, object]) -> None:
    store, _ = scanned
    rows = store.sql(
        "SELECT account_id, flagged, score FROM account_scores "
        "WHERE scan_id = (SELECT max(scan_id) FROM scans)"
    )
    flagged = {a for a, f, _ in rows if f}
    campaign = {a for a, _, _ in rows if a.startswith("acct_campaign_")}
    assert campaign <= flagged
    assert flagged <= campaign, f"look-alikes flagged: {sorted(flagged - campaign)}"


def test_scan_skips_content_when_only_hashes_are_kept(
    planted_data: Planted, tmp_path: Path
) -> None:
    from stillwatch.pipeline import scan

    folder = planted_data.write(tmp_path / "hashes", drop=("prompt",), accounts=False)
    with open_store(tmp_path / "s.duckdb") as store:
        ingest_folder(store, folder)
        result = scan(store, {"flag_threshold": 0.5})
        candidates = store.sql(
            "SELECT m.account_id FROM campaign_members m JOIN campaigns c "
            "USING (scan_id, campaign_id) WHERE scan_id = ? AND c.status = 'candidate'",
            [result.scan_id],
        )
        from stillwatch.campaigns.explain import explain_campaign, render_campaign

        first = store.scalar(
            "SELECT campaign_id FROM campaigns WHERE scan_id = ? ORDER BY score DESC LIMIT 1",
            [result.scan_id],
        )
        words = "\n".join(render_campaign(explain_campaign(store, first, result.scan_id)))
    assert "not organic  not measured" in words and "no account facts were measured" in words
    assert "exchanges.prompt" in result.skipped["content.shared-frames"]
    assert "accounts.created_at" in result.skipped["account.young-unverified"]
    assert "accounts.created_at" in result.skipped["registration.burst"]
    assert result.detectors["infrastructure.shared-rare"]["ran"]
    assert result.detectors["synchrony.same-minutes"]["ran"]
    # identical prompts are still seen, by their hashes
    assert result.detectors["prompts.shared-hashes"]["ran"]
    # no account facts: clusters are candidates for an analyst, none is reported, and the scan
    # says why (a fleet cannot be told from a campaign without them)
    assert result.campaigns == 0 and result.flagged == 0
    assert any("no account facts" in n for n in result.notes)
    assert any(a.startswith("acct_campaign_") for (a,) in candidates)
