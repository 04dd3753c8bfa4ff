"""Registration bursts' links, from arrays: the same links as the list ``pairs.top_k_links``
makes of every pair of each linking burst (each pair's strongest burst, the first of equally
strong ones; each account's ``top_k`` strongest partners, ties to the smaller id)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stillwatch.detectors.base import LinkColumns, ScanContext
from stillwatch.detectors.bursts import RegistrationBurst
from stillwatch.detectors.pairs import group_pairs, top_k_links
from stillwatch.engine.store import open_store
from stillwatch.features.sources import Sources
from stillwatch.pipeline import store_inputs


def _accounts(seed: int) -> list[tuple[Any, ...]]:
    """Ids not in insertion order ("acct_10" < "acct_9"): a batch of 30 on one path and
    network in an hour (so each pair meets in two bursts of equal strength), a card shared by
    half of them and a few others, and 400 self-serve sign-ups spread over a month."""
    rng = np.random.default_rng(seed)
    t0 = datetime(2026, 3, 1)
    rows = []
    for i in range(30):
        at = t0 + timedelta(days=15, minutes=int(rng.integers(0, 60)))
        card = "pm_shared" if i % 2 else f"pm_{i}"
        rows.append((f"acct_{i}", at, "campus", f"10.1.2.{i}", card, bool(i % 5 == 0)))
    for i in range(30, 36):
        at = t0 + timedelta(days=15, minutes=int(rng.integers(0, 90)))
        rows.append((f"acct_{i}", at, "self-serve", f"81.0.{i}.1", "pm_shared", False))
    for i in range(36, 436):
        at = t0 + timedelta(minutes=int(rng.integers(0, 30 * 24 * 60)))
        rows.append((f"acct_{i}", at, "self-serve", f"82.{i % 250}.{i // 250}.1", f"pm_{i}",
                     bool(rng.random() < 0.5)))  # fmt: skip
    return [rows[i] for i in rng.permutation(len(rows))]


def test_links_as_columns_are_the_top_k_links_of_every_burst_pair(
    tmp_path: Path, monkeypatch: Any
) -> None:
    with open_store(tmp_path / "s.duckdb") as store:
        store.con.executemany(
            "INSERT INTO accounts (account_id, created_at, signup_path, signup_ip, "
            "payment_fingerprint, verified) VALUES (?, ?, ?, ?, ?, ?)",
            _accounts(3),
        )
        ctx = ScanContext(Sources.from_backend(store.ibis()), pd.DataFrame(),
                          frozenset(store_inputs(store)["present"]))  # fmt: skip
        found: dict[str, Any] = {}
        links = RegistrationBurst.links

        def keep_bursts(self: RegistrationBurst, accounts: Any, linking: Any, facts: Any) -> Any:
            found.update(accounts=accounts, linking=linking, facts=facts)
            return links(self, accounts, linking, facts)

        monkeypatch.setattr(RegistrationBurst, "links", keep_bursts)
        detector = RegistrationBurst(min_burst=3, top_k=4)
        out = detector.run(ctx)
    assert isinstance(out.links, LinkColumns)
    candidates = [
        (x, y, s, "registration_burst", {"key": key, "value": value, "burst": size})
        for members, (s, key, value, size) in zip(found["linking"], found["facts"], strict=True)
        for x, y in group_pairs([str(found["accounts"][m]) for m in members])
    ]
    # the case that needs the first of equally strong bursts: one pair, two keys, one weight
    strongest: dict[tuple[str, str], list[tuple[float, str]]] = {}
    for x, y, s, _, ev in candidates:
        strongest.setdefault((x, y), []).append((s, ev["key"]))
    assert any(len({k for s, k in v if s == max(v)[0]}) > 1 for v in strongest.values())
    expected = top_k_links(detector.id, candidates, detector.top_k)
    assert len(expected) > 50 and len({lk.a for lk in expected} | {lk.b for lk in expected}) > 30
    assert list(out.links) == expected
