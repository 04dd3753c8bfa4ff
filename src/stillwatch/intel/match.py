"""Which of our accounts carry a partner's indicators.

Our own values come from the canonical tables: IP prefixes and TLS fingerprints from
``exchanges``, e-mail domains from ``accounts``, prompt skeletons from ``exchanges.prompt``;
each is put in its canonical form and hashed under the same community key, then compared with
``intel_indicators``: keyed hashes and raw values by equality, keyed MinHash signatures by
estimated Jaccard similarity at or above ``intel_minhash_min_similarity`` percent.

Every run appends to ``intel_matches`` under a new ``match_run_id`` (recorded in
``intel_match_runs``); nothing is ever deleted, so a detection re-scan or a second match run
leaves earlier matches in place. Readers take the latest run.

What a match catches: our accounts sharing infrastructure or prompt frames with a campaign a
partner saw. Known false positives: popular TLS stacks (one fingerprint per runtime) and
public prompt frames are shared by unrelated users; a match is evidence for a detector to
weigh by kind and count, not a verdict.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from stillwatch.engine.store import Store
from stillwatch.intel import minhash
from stillwatch.intel.canonical import (
    EMAIL_DOMAIN,
    IP_PREFIX,
    KINDS,
    PROMPT_SKELETON,
    email_domain,
    ip_prefix,
    skeleton,
    tls_fingerprint,
)
from stillwatch.intel.keys import CommunityKey

_CHUNK = 256  # our signatures compared at once: bounds memory to CHUNK x partners x 128 bytes


@dataclass
class MatchSummary:
    match_run_id: str
    indicators_read: int
    rows: list[dict[str, object]] = field(default_factory=list)

    @property
    def accounts(self) -> list[str]:
        return sorted({str(r["account_id"]) for r in self.rows})


def our_values(store: Store, kinds: set[str]) -> dict[tuple[str, str], dict[str, int]]:
    """(kind tag, canonical value) -> {account id: exchanges carrying it} for ``kinds``."""
    values: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if IP_PREFIX.tag in kinds:
        for account, ip, n in store.sql(
            "SELECT account_id, ip, count(*) FROM exchanges WHERE ip IS NOT NULL GROUP BY ALL"
        ):
            if prefix := ip_prefix(ip):
                values[(IP_PREFIX.tag, prefix)][account] += n
    if kinds & {"tls-ja3/1", "tls-ja4/1"}:
        for account, fp, n in store.sql(
            """SELECT account_id, tls_fingerprint, count(*) FROM exchanges
               WHERE tls_fingerprint IS NOT NULL GROUP BY ALL"""
        ):
            if found := tls_fingerprint(fp):
                values[(found[0].tag, found[1])][account] += n
    if EMAIL_DOMAIN.tag in kinds:
        for account, domain, n in store.sql(
            """SELECT a.account_id, a.email_domain, count(e.event_id) FROM accounts a
               LEFT JOIN exchanges e USING (account_id)
               WHERE a.email_domain IS NOT NULL GROUP BY ALL"""
        ):
            if canonical := email_domain(domain):
                values[(EMAIL_DOMAIN.tag, canonical)][account] += n
    if PROMPT_SKELETON.tag in kinds:
        frames: dict[str, str | None] = {}
        for account, prompt, n in store.sql(
            "SELECT account_id, prompt, count(*) FROM exchanges WHERE prompt IS NOT NULL GROUP BY ALL"
        ):
            if prompt not in frames:
                frames[prompt] = skeleton(prompt)
            if frame := frames[prompt]:
                values[(PROMPT_SKELETON.tag, frame)][account] += n
    return values


def match_indicators(store: Store, key: CommunityKey, min_similarity: float) -> MatchSummary:
    """Compare every stored partner indicator with our accounts; append to ``intel_matches``."""
    started = datetime.now(UTC).replace(tzinfo=None)
    run_id = f"intel-match-{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    partner = store.sql(
        """SELECT producer_id, indicator_id, kind, encoding, key_id, value, campaign_refs
           FROM intel_indicators WHERE key_id IS NULL OR key_id = ?""",
        [key.key_id],
    )
    summary = MatchSummary(run_id, len(partner))
    kinds = {row[2] for row in partner if row[2] in KINDS}
    ours = our_values(store, kinds)
    exact: dict[tuple[str, str, str], list[tuple[str, str, list[str]]]] = defaultdict(list)
    signatures: list[tuple[str, str, list[str], np.ndarray]] = []
    for producer, ind_id, kind, encoding, _key_id, value, refs in partner:
        if encoding == "keyed-minhash":
            signatures.append((producer, ind_id, list(refs or []), minhash.decode(value)))
        else:
            exact[(kind, encoding, value)].append((producer, ind_id, list(refs or [])))
    for (kind, canonical), accounts in ours.items():
        for encoding, value in (
            ("raw", canonical),
            ("keyed-hash", key.keyed_hash(kind, canonical)),
        ):
            for producer, ind_id, refs in exact.get((kind, encoding, value), []):
                for account, n in accounts.items():
                    summary.rows.append(
                        _row(run_id, account, producer, ind_id, kind, encoding, n, None, refs)
                    )
    if signatures:
        _match_signatures(summary, ours, key, signatures, min_similarity)
    _store(store, summary, key, started)
    return summary


def _row(run_id: str, account: str, producer: str, ind_id: str, kind: str, encoding: str,
         exchanges: int, similarity: float | None, refs: list[str]) -> dict[str, object]:  # fmt: skip
    return {
        "match_run_id": run_id, "account_id": account, "producer_id": producer,
        "indicator_id": ind_id, "kind": kind, "encoding": encoding, "exchanges": exchanges,
        "similarity": similarity, "partner_campaign_refs": refs,
    }  # fmt: skip


def _match_signatures(
    summary: MatchSummary,
    ours: dict[tuple[str, str], dict[str, int]],
    key: CommunityKey,
    signatures: list[tuple[str, str, list[str], np.ndarray]],
    min_similarity: float,
) -> None:
    frames = [
        (canonical, accounts)
        for (kind, canonical), accounts in ours.items()
        if kind == PROMPT_SKELETON.tag
    ]
    if not frames:
        return
    theirs = np.stack([s[3] for s in signatures])
    # account -> indicator -> (exchanges, best similarity) over the account's matching frames
    best: dict[tuple[str, int], tuple[int, float]] = {}
    for start in range(0, len(frames), _CHUNK):
        chunk = frames[start : start + _CHUNK]
        mine = np.stack([minhash.keyed_minhash(key, frame) for frame, _ in chunk])
        sim = minhash.similarity(mine, theirs)
        for i, j in zip(*np.nonzero(sim >= min_similarity), strict=True):
            for account, n in chunk[i][1].items():
                seen = best.get((account, int(j)), (0, 0.0))
                best[(account, int(j))] = (seen[0] + n, max(seen[1], float(sim[i, j])))
    for (account, j), (n, s) in sorted(best.items()):
        producer, ind_id, refs, _ = signatures[j]
        summary.rows.append(
            _row(summary.match_run_id, account, producer, ind_id, PROMPT_SKELETON.tag,
                 "keyed-minhash", n, round(s, 4), refs)
        )  # fmt: skip


def _store(store: Store, summary: MatchSummary, key: CommunityKey, started: datetime) -> None:
    columns = ["match_run_id", "account_id", "producer_id", "indicator_id", "kind", "encoding",
               "exchanges", "similarity", "partner_campaign_refs"]  # fmt: skip
    with store.transaction():
        if summary.rows:
            store.con.executemany(
                f"INSERT INTO intel_matches ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                [[r[c] for c in columns] for r in summary.rows],
            )
        store.con.execute(
            "INSERT INTO intel_match_runs VALUES (?, ?, ?, ?, ?, ?, ?)",
            [summary.match_run_id, started, datetime.now(UTC).replace(tzinfo=None), key.key_id,
             summary.indicators_read, len(summary.accounts), len(summary.rows)],
        )  # fmt: skip


def account_summary(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Per account: indicators matched, the kinds, partner campaigns, and the most exchanges
    any one matching value was seen in."""
    indicators: dict[str, set[object]] = defaultdict(set)
    kinds: dict[str, set[str]] = defaultdict(set)
    campaigns: dict[str, set[str]] = defaultdict(set)
    exchanges: dict[str, int] = defaultdict(int)
    for r in rows:
        account = str(r["account_id"])
        indicators[account].add(r["indicator_id"])
        kinds[account].add(f"{r['kind']} {r['encoding']}")
        campaigns[account].update(str(c) for c in r["partner_campaign_refs"])  # type: ignore[attr-defined]
        exchanges[account] = max(exchanges[account], int(r["exchanges"]))  # type: ignore[call-overload]
    return [
        {
            "account_id": a,
            "indicators": len(indicators[a]),
            "kinds": ", ".join(sorted(kinds[a])),
            "partner_campaigns": len(campaigns[a]),
            "exchanges": exchanges[a],
        }
        for a in sorted(indicators)
    ]
