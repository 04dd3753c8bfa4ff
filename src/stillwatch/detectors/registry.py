"""Every detector, built-in rules and classes alike, in one registry.

``stillwatch detectors list`` prints it. Rules come from ``rules/*.yaml``; classes are listed
here with their default parameters. A detector class may name detectors it must run ``after``
(it reads the links they propose).
"""

from __future__ import annotations

from functools import cache

from stillwatch.detectors.base import Detector
from stillwatch.detectors.bursts import RegistrationBurst
from stillwatch.detectors.content import (
    CapabilityFocus,
    Elicitation,
    SharedFrames,
    SimilarPhrasing,
)
from stillwatch.detectors.infrastructure import SharedInfrastructure
from stillwatch.detectors.partner_intel import PartnerMatches
from stillwatch.detectors.pivots import ReleasePivot
from stillwatch.detectors.prompt_hashes import SharedPrompts
from stillwatch.detectors.rules import load_rules
from stillwatch.detectors.synchrony import SynchronizedTiming


def algorithm_detectors() -> list[Detector]:
    return [
        SharedInfrastructure(),
        SynchronizedTiming(),
        RegistrationBurst(),
        ReleasePivot(),
        SharedFrames(),
        SimilarPhrasing(),
        SharedPrompts(),
        Elicitation(),
        CapabilityFocus(),
        PartnerMatches(),
    ]


@cache
def detectors() -> tuple[Detector, ...]:
    """Every registered detector, in the order a scan runs them (dependencies first)."""
    found: list[Detector] = [*load_rules(), *algorithm_detectors()]
    ids = [d.id for d in found]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"detector id(s) registered twice: {dupes}")
    ordered: list[Detector] = []
    done: set[str] = set()
    pending = list(found)
    while pending:
        progressed = False
        for d in list(pending):
            if all(a in done or a not in ids for a in getattr(d, "after", ())):
                ordered.append(d)
                done.add(d.id)
                pending.remove(d)
                progressed = True
        if not progressed:
            raise ValueError(f"detectors with circular 'after': {[d.id for d in pending]}")
    return tuple(ordered)


def by_id(detector_id: str) -> Detector:
    for d in detectors():
        if d.id == detector_id:
            return d
    raise KeyError(detector_id)
