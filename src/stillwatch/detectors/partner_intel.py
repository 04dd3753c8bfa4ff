"""Partner intelligence: our accounts carrying indicators of a campaign another provider saw.

Reads ``intel_matches`` of the latest ``stillwatch intel match`` run (written by the sharing
stage; ``docs/sharing.md``), nothing else: the partner's indicators were matched against our
traffic there, and a scan never deletes them. Each matching kind is evidence of its own
strength, set from what the kind means (as the link stage's trust per link type,
``docs/campaigns.md``), not fitted:

| kind (encoding) | weight | why |
|---|---|---|
| prompt frame (keyed hash) | 0.8 | the operator's own template |
| prompt frame (keyed MinHash) | 0.6 at 80% similarity up to 0.8 at 100% | a near copy of it |
| private mail domain (raw) | 0.6 | registration domains are the operator's |
| datacenter prefix (raw) | 0.35 | proxy ranges are rented by many |
| TLS fingerprint (keyed hash) | 0.15 | one fingerprint per client runtime |

Kinds combine as independent evidence, ``1 − Π(1 − weight)``, each kind at its strongest
match. The evidence names how many partner indicators, partner campaigns and partners matched,
the kinds, the exchanges carrying matching values and the best MinHash similarity.

Catches: our accounts of an operator a partner already reported, before our own signals
suffice. Known false positives: users of a popular client (TLS) or of a public prompt frame
the partner's campaign also used; customers of a hosting provider in a partner's raw
prefix. A match is never a verdict: it is one family in the coordination group.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from stillwatch.detectors.base import DetectorOutput, ScanContext, check_param, ramp

KIND_WEIGHTS: dict[tuple[str, str], float] = {
    ("prompt-skeleton/1", "keyed-hash"): 0.8,
    ("prompt-skeleton/1", "keyed-minhash"): 0.8,  # scaled by similarity below
    ("email-domain/1", "raw"): 0.6,
    ("ip-prefix/1", "raw"): 0.35,
    ("tls-ja3/1", "keyed-hash"): 0.15,
    ("tls-ja4/1", "keyed-hash"): 0.15,
}


class PartnerMatches:
    id = "intel.matches"
    version = "1"
    family = "partner-intel"
    # Every store has ``intel_matches``; no partner match is an empty input, not a missing one
    # (so a scan does not list this detector as skipped).
    requires = ()
    evidence_keys = ("indicators", "kinds", "partner_campaigns", "partners", "exchanges",
                     "best_similarity")  # fmt: skip
    description = "carries indicators of a campaign a partner provider shared"
    false_positives = (
        "users of a popular client or public prompt frame the partner's campaign also used"
    )

    def __init__(self, min_similarity: float = 0.8) -> None:
        check_param("min_similarity", min_similarity, 0.01, 1)
        self.min_similarity = min_similarity

    def _weight(self, kind: str, encoding: str, similarity: float | None) -> float:
        base = KIND_WEIGHTS.get((kind, encoding), 0.0)
        if encoding != "keyed-minhash":
            return base
        s = 0.0 if similarity is None else float(similarity)
        if s < self.min_similarity:
            return 0.0
        return base * (0.75 + 0.25 * float(ramp(s, self.min_similarity, 1.0)))

    def run(self, ctx: ScanContext) -> DetectorOutput:
        out = DetectorOutput()
        table = ctx.sources.intel_matches
        if table is None or ctx.features.empty:
            return out
        latest = table.match_run_id.max()
        rows = (
            table.filter(table.match_run_id == latest)
            .select(
                "account_id",
                "producer_id",
                "indicator_id",
                "kind",
                "encoding",
                "exchanges",
                "similarity",
                "partner_campaign_refs",
            )
            .to_pandas()
        )
        if rows.empty:
            return out
        ours = set(ctx.features.account_id)
        per: dict[str, dict[str, Any]] = defaultdict(
            lambda: {
                "indicators": set(),
                "campaigns": set(),
                "partners": set(),
                "kinds": defaultdict(float),
                "exchanges": 0,
                "similarity": None,
            }
        )
        for r in rows.itertuples(index=False):
            if r.account_id not in ours:
                continue
            similarity = (
                None
                if r.similarity is None or r.similarity != r.similarity
                else float(r.similarity)
            )
            w = self._weight(r.kind, r.encoding, similarity)
            if w <= 0:
                continue
            acc = per[r.account_id]
            acc["indicators"].add((r.producer_id, r.indicator_id))
            acc["partners"].add(r.producer_id)
            acc["campaigns"].update((r.producer_id, c) for c in (r.partner_campaign_refs or ()))
            label = f"{r.kind} {r.encoding}"
            acc["kinds"][label] = max(acc["kinds"][label], w)
            acc["exchanges"] = max(acc["exchanges"], int(r.exchanges or 0))
            if similarity is not None:
                acc["similarity"] = max(acc["similarity"] or 0.0, similarity)
        for account in sorted(per):
            acc = per[account]
            # each kind at its strongest; the two frame encodings are one kind of evidence
            by_kind: dict[str, float] = defaultdict(float)
            for label, w in acc["kinds"].items():
                kind = label.split(" ", 1)[0]
                by_kind[kind] = max(by_kind[kind], w)
            miss = 1.0
            for w in by_kind.values():
                miss *= 1.0 - w
            out.add(
                account,
                round(1.0 - miss, 6),
                {
                    "indicators": len(acc["indicators"]),
                    "kinds": sorted(acc["kinds"]),
                    "partner_campaigns": len(acc["campaigns"]),
                    "partners": len(acc["partners"]),
                    "exchanges": acc["exchanges"],
                    "best_similarity": None
                    if acc["similarity"] is None
                    else round(acc["similarity"], 4),
                },
            )
        return out
