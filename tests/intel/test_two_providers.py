"""Two simulated providers that saw the same operator export, swap, import and match; PSI counts
their common flagged values; no bundle carries a raw IP, account id, e-mail domain or prompt.

The expected figures are derived from both stores (``two_providers.derive``), never written
down: which values each side's campaigns share, and which of the other side's accounts carry
them."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from stillwatch.intel.canonical import ip_prefix
from tests.intel.two_providers import Provider, bundle_strings, run, store_strings

Pair = tuple[Provider, Provider, Path]


@pytest.fixture(scope="session")
def swapped(two_providers: Pair) -> dict[str, dict]:
    """Each provider imports the other's bundle and matches: name -> match output (JSON)."""
    a, b, key = two_providers
    root = a.store.parent
    out = {}
    for ours, theirs in ((a, b), (b, a)):
        run("intel", "import", str(theirs.bundle), "--store", str(ours.store),
            "--community-key", str(key), cwd=root, ok=(0,))  # fmt: skip
        matched = run("intel", "match", "--store", str(ours.store), "--community-key", str(key),
                      "--format", "json", cwd=root)  # fmt: skip
        out[ours.name] = json.loads(matched)
    return out


def _match_rows(store: Path, run_id: str) -> list[tuple]:
    con = duckdb.connect(str(store), read_only=True)
    try:
        return con.execute(
            """SELECT account_id, kind, encoding, exchanges, similarity, partner_campaign_refs
               FROM intel_matches WHERE match_run_id = ?""",
            [run_id],
        ).fetchall()
    finally:
        con.close()


def _truth(folder: Path) -> dict[str, str | None]:
    con = duckdb.connect()
    return dict(
        con.execute(
            f"SELECT account_id, operator_id FROM '{folder}/labels_accounts.parquet'"
        ).fetchall()
    )


def test_bundles_hold_what_the_stores_share(two_providers: Pair) -> None:
    """Each bundle's indicators are exactly the values its store's campaigns share."""
    for p in two_providers[:2]:
        bundle = json.loads(p.bundle.read_text())
        indicators = [o for o in bundle["objects"] if o["type"] == "indicator"]
        kinds = Counter(
            (next(iter(o["extensions"].values()))["kind"], next(iter(o["extensions"].values()))["encoding"])
            for o in indicators
        )  # fmt: skip
        expected = Counter(kind for kind, _ in p.shared)
        frames = expected["prompt-skeleton/1"]
        assert frames > 0
        assert kinds[("prompt-skeleton/1", "keyed-hash")] == frames
        assert (
            kinds[("prompt-skeleton/1", "keyed-minhash")] <= frames
        )  # equal frames, one signature
        for tls in ("tls-ja3/1", "tls-ja4/1"):
            assert kinds[(tls, "keyed-hash")] == expected[tls]
        assert not any(encoding == "raw" for _, encoding in kinds)
        assert kinds[("prompt-skeleton/1", "keyed-minhash")] > 0
        campaigns = [o for o in bundle["objects"] if o["type"] == "campaign"]
        assert len(campaigns) == len(p.campaigns) > 1


def test_the_overlap_is_found_with_the_right_counts(two_providers: Pair, swapped: dict) -> None:
    a, b, _ = two_providers
    for ours, theirs in ((a, b), (b, a)):
        summary = swapped[ours.name]
        rows = _match_rows(ours.store, summary["match_run_id"])
        # exact matches: every (account, shared value) pair of our traffic, with its exchanges
        expected = Counter(
            (account, kind, n)
            for account, values in ours.values.items()
            for (kind, value), n in values.items()
            if (kind, value) in theirs.shared
        )
        got = Counter((r[0], r[1], r[3]) for r in rows if r[2] == "keyed-hash")
        assert got == expected and expected, ours.name
        # every frame matched exactly is also found by its MinHash signature (similarity 1)
        exact_frames = {
            (r[0]) for r in rows if r[1] == "prompt-skeleton/1" and r[2] == "keyed-hash"
        }
        near = {r[0]: r[4] for r in rows if r[2] == "keyed-minhash"}
        assert exact_frames <= set(near) and all(s >= 0.8 for s in near.values())
        matched = {r[0] for r in rows}
        assert summary["accounts_matched"] == len(matched)
        assert summary["matches"] == len(rows)
        # the partner campaigns named: exactly those sharing a value our accounts carry
        partner_campaigns = {c for r in rows if r[2] == "keyed-hash" for c in r[5]}
        ours_values = {v for values in ours.values.values() for v in values}
        expected_campaigns = set().union(
            *(theirs.shared[v] for v in theirs.shared if v in ours_values)
        )
        assert len(partner_campaigns) == len(expected_campaigns) > 0
        # and it is the shared operator: the matched accounts are its campaign accounts
        truth, other = _truth(ours.folder), _truth(theirs.folder)
        shared_ops = {o for o in truth.values() if o} & {o for o in other.values() if o}
        hits = [a for a in matched if truth.get(a) in shared_ops]
        theirs_accounts = [a for a, o in truth.items() if o in shared_ops]
        assert len(hits) >= 0.9 * len(matched), (len(hits), len(matched))
        # one simulated day: many of its accounts send too few exchanges to carry a shared frame
        assert len(hits) >= 0.4 * len(theirs_accounts), (len(hits), len(theirs_accounts))


def test_psi_counts_the_common_flagged_values(two_providers: Pair) -> None:
    a, b, _ = two_providers
    root = a.store.parent
    request, state, response = (
        root / "psi-req.json",
        root / "psi-state.json",
        root / "psi-resp.json",
    )
    run("intel", "psi", "request", "--store", str(a.store), "--out", str(request),
        "--state", str(state), cwd=root, ok=(0,))  # fmt: skip
    run("intel", "psi", "respond", str(request), "--store", str(b.store), "--out", str(response),
        cwd=root, ok=(0,))  # fmt: skip
    count = json.loads(run("intel", "psi", "count", "--state", str(state), "--response",
                           str(response), "--format", "json", cwd=root))  # fmt: skip
    prefixes = {i for i in a.flagged & b.flagged if i.startswith("ip-prefix/")}
    assert prefixes, "the operator's proxy ranges are flagged by both"
    assert count == {
        "in_both": len(a.flagged & b.flagged),
        "ours": len(a.flagged),
        "partners": len(b.flagged),
    }


def test_no_bundle_carries_a_raw_value_of_the_store(two_providers: Pair, tmp_path: Path) -> None:
    """Every exported bundle (both providers' full exports, one campaign alone, TLP:CLEAR)
    against every raw IP (and its /24 or /48), account id, e-mail domain and prompt text of
    either store."""
    a, b, key = two_providers
    bundles = [a.bundle, b.bundle]
    campaign = next(
        o for o in json.loads(a.bundle.read_text())["objects"] if o["type"] == "campaign"
    )
    assert campaign  # a.bundle holds campaigns; export one of the store's alone as well
    con = duckdb.connect(str(a.store), read_only=True)
    cid = con.execute(
        "SELECT campaign_id FROM campaigns WHERE status = 'reported' ORDER BY score DESC LIMIT 1"
    ).fetchone()[0]  # type: ignore[index]
    con.close()
    single = tmp_path / "single.json"
    run("intel", "export", "--campaign", cid, "--tlp", "clear", "--community-key", str(key),
        "--min-confidence", "1", "--store", str(a.store), "--out", str(single),
        cwd=tmp_path, ok=(0,))  # fmt: skip
    bundles.append(single)
    raw = {k: v | w for (k, v), w in zip(store_strings(a.store).items(), store_strings(b.store).values(), strict=True)}  # fmt: skip
    raw["ip prefix"] = {p for ip in raw["ip"] if (p := ip_prefix(ip))}
    assert all(raw.values())
    for bundle in bundles:
        strings = bundle_strings(bundle)
        text = "\n".join(strings)
        tokens = set(strings) | set(re.findall(r"[\w.:@%/+-]+", text))
        for what in ("ip", "ip prefix", "account id", "e-mail domain"):
            leaked = raw[what] & tokens
            assert not leaked, (bundle.name, what, sorted(leaked)[:5])
        # prompts: every line of 16 characters or more (shorter ones are single words that
        # any text may hold, "description" among them)
        windows = {text[i : i + 16] for i in range(len(text) - 15)}
        for prompt in raw["prompt"]:
            for line in prompt.splitlines():
                line = line.strip()
                if len(line) >= 16 and line[:16] in windows and line in text:
                    raise AssertionError((bundle.name, "prompt text", line[:80]))


def test_a_rescan_reads_the_partner_matches_as_signals(two_providers: Pair, swapped: dict) -> None:
    """``intel.matches``: every account the latest match run found gets a signal with its
    evidence; a re-scan leaves ``intel_matches`` as it was."""
    b = two_providers[1]
    rows = _match_rows(b.store, swapped["b"]["match_run_id"])
    con = duckdb.connect(str(b.store), read_only=True)
    before = con.execute("SELECT count(*) FROM intel_matches").fetchone()
    con.close()
    run("scan", "--store", str(b.store), cwd=b.store.parent)
    con = duckdb.connect(str(b.store), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM intel_matches").fetchone() == before
        signals = {
            a: (s, json.loads(e))
            for a, s, e in con.execute(
                """SELECT account_id, score, evidence FROM signals WHERE detector = 'intel.matches'
                   AND scan_id = (SELECT scan_id FROM scans WHERE status = 'done'
                                  ORDER BY finished_at DESC LIMIT 1)"""
            ).fetchall()
        }
    finally:
        con.close()
    assert set(signals) == {r[0] for r in rows}
    exact = {r[0] for r in rows if r[1] == "prompt-skeleton/1" and r[2] == "keyed-hash"}
    for account, (score, evidence) in signals.items():
        mine = [r for r in rows if r[0] == account]
        assert evidence["indicators"] == len(mine)
        assert evidence["partners"] == 1
        assert evidence["exchanges"] == max(r[3] for r in mine)
        assert score >= (0.8 if account in exact else 0.15)


def test_export_honours_the_casebook(two_providers: Pair, tmp_path: Path) -> None:
    """A campaign analysts dismissed is not shared; one they confirmed is labelled with
    confidence 100; allowlisted and dismissed accounts contribute nothing."""
    from stillwatch.engine.casebook import now_text, open_casebook

    a, _, key = two_providers
    dismissed, confirmed = a.campaigns[0], a.campaigns[1]
    con = duckdb.connect(str(a.store), read_only=True)
    members = [
        r[0]
        for r in con.execute(
            "SELECT account_id FROM campaign_members WHERE campaign_id = ? AND scan_id = ? "
            "ORDER BY account_id LIMIT 3",
            [confirmed, a.scan_id],
        ).fetchall()
    ]
    size = con.execute(
        "SELECT count(*) FROM campaign_members WHERE campaign_id = ? AND scan_id = ?",
        [confirmed, a.scan_id],
    ).fetchone()[0]  # type: ignore[index]
    con.close()
    book = tmp_path / "casebook.sqlite"
    with open_casebook(book) as cb, cb.transaction() as c:
        for kind, entity, verdict in (("campaign", dismissed, "dismissed"),
                                      ("campaign", confirmed, "confirmed"),
                                      ("account", members[0], "dismissed")):  # fmt: skip
            c.execute(
                "INSERT INTO analyst_verdicts (ts, analyst, entity_kind, entity_id, verdict, note) "
                "VALUES (?, 'ana', ?, ?, ?, '')",
                (now_text(), kind, entity, verdict),
            )
        for account in members[1:]:
            c.execute(
                "INSERT INTO allowlist (entity_kind, entity, account_id, reason, added_by, "
                "added_at) VALUES ('account', ?, ?, 'known customer', 'ana', ?)",
                (account, account, now_text()),
            )
    out = tmp_path / "decided.json"
    printed = run("intel", "export", "--all", "--tlp", "amber", "--community-key", str(key),
                  "--min-confidence", "50", "--store", str(a.store), "--casebook", str(book),
                  "--out", str(out), "--format", "json", cwd=tmp_path, ok=(0,))  # fmt: skip
    payload = json.loads(printed)
    assert payload["dismissed"] == [dismissed] and payload["confirmed"] == [confirmed]
    assert payload["excluded_accounts"] == 3
    campaigns = [o for o in json.loads(out.read_text())["objects"] if o["type"] == "campaign"]
    assert len(campaigns) == len(a.campaigns) - 1
    marked = [c for c in campaigns if c.get("labels") == ["analyst-confirmed"]]
    assert len(marked) == 1 and marked[0]["confidence"] == 100
    assert next(iter(marked[0]["extensions"].values()))["accounts_shared"] == size - 3
