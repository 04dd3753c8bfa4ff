"""What a scan's context keeps of earlier detectors' links: the pairs, as feature rows."""

from __future__ import annotations

import pandas as pd

from stillwatch.detectors.base import LinkCandidate, ScanContext


def test_linked_pairs_are_feature_rows_and_unknown_ends_are_left_out() -> None:
    features = pd.DataFrame({"account_id": ["a", "b", "c", "d"]})
    ctx = ScanContext(sources=None, features=features, present=frozenset())  # type: ignore[arg-type]
    assert [r.tolist() for r in ctx.linked_rows()] == [[], []]
    ctx.note_links([LinkCandidate("x", "ip", "a", "c", 0.5, {}),
                    LinkCandidate("x", "ip", "b", "zz", 0.5, {})])  # fmt: skip
    ctx.note_links([])
    ctx.note_links([LinkCandidate("y", "frame", "d", "b", 0.2, {})])
    a, b = ctx.linked_rows()
    assert list(zip(a.tolist(), b.tolist(), strict=True)) == [(0, 2), (3, 1)]
