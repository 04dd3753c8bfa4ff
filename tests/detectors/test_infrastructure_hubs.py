"""Hubs: a value held by more than ``max_group`` accounts ties nobody when anyone may hold it
(a carrier's address), but an instrument an account owns (a card) still ties its holders,
sparsely: a pooled card a thousand accounts pay with is an operator's, never a carrier's."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from stillwatch.detectors.base import ScanContext
from stillwatch.detectors.infrastructure import SharedInfrastructure
from stillwatch.engine.store import open_store
from stillwatch.features.sources import Sources
from stillwatch.pipeline import store_inputs

POOL = [f"pool{i:03d}" for i in range(60)]  # one card
CGNAT = [f"user{i:03d}" for i in range(60)]  # one carrier address, own cards
OTHERS = [f"other{i:04d}" for i in range(3000)]


def _links(tmp_path: Path, max_group: int) -> dict[tuple[str, str], str]:
    t0 = datetime(2026, 5, 1)
    with open_store(tmp_path / f"s{max_group}.duckdb") as store:
        accounts = [(a, t0, "pm_pool") for a in POOL]
        accounts += [(a, t0, f"pm_{a}") for a in CGNAT + OTHERS]
        store.con.executemany(
            "INSERT INTO accounts (account_id, created_at, payment_fingerprint) VALUES (?, ?, ?)",
            accounts,
        )
        rows = [(a, "100.64.3.7" if a in CGNAT else f"81.{i % 200}.{i // 200}.9")
                for i, a in enumerate(POOL + CGNAT + OTHERS)]  # fmt: skip
        store.con.executemany(
            "INSERT INTO exchanges (event_id, ts, account_id, ip) VALUES (?, ?, ?, ?)",
            [(f"e{i}", t0 + timedelta(minutes=i), a, ip) for i, (a, ip) in enumerate(rows)],
        )
        ctx = ScanContext(
            Sources.from_backend(store.ibis()),
            pd.DataFrame({"account_id": POOL + CGNAT + OTHERS}),
            frozenset(store_inputs(store)["present"]),
        )
        out = SharedInfrastructure(max_group=max_group).run(ctx)
    return {(lk.a, lk.b): lk.link_type for lk in out.links}


def test_an_owned_hub_ties_its_holders_sparsely_a_carrier_hub_nobody(tmp_path: Path) -> None:
    below = _links(tmp_path, max_group=100)  # both groups under the cap: all pairs
    assert sum(1 for (a, b) in below if a in POOL and b in POOL) > 0
    assert any(a in CGNAT and b in CGNAT for a, b in below)
    hub = _links(tmp_path, max_group=20)  # both groups over the cap
    pool_pairs = [(a, b) for (a, b), t in hub.items() if a in POOL and b in POOL]
    assert all(hub[p] == "payment" for p in pool_pairs)
    # sparse: about five partners each on the circle, not all 1,770 pairs
    assert 0 < len(pool_pairs) <= 5 * len(POOL)
    partners = {a for p in pool_pairs for a in p}
    assert partners == set(POOL)
    assert not any(a in CGNAT and b in CGNAT for a, b in hub)


def test_a_pool_so_large_each_pair_weighs_little_still_ties_every_holder(tmp_path: Path) -> None:
    # 400 of 1,000 accounts pay with one card: the card weighs (1 - ln 400 / ln 1000) x (1 - 0.4)
    # = 0.08, each pair on its circle 0.077, far under the 0.3 floor other pairs must reach.
    # Under that floor the circle tied nobody, and the larger an operator's pool the surer.
    t0 = datetime(2026, 5, 1)
    pool = [f"pool{i:03d}" for i in range(400)]
    others = [f"other{i:03d}" for i in range(600)]
    with open_store(tmp_path / "s.duckdb") as store:
        store.con.executemany(
            "INSERT INTO accounts (account_id, created_at, payment_fingerprint) VALUES (?, ?, ?)",
            [(a, t0, "pm_pool") for a in pool] + [(a, t0, f"pm_{a}") for a in others],
        )
        store.con.executemany(
            "INSERT INTO exchanges (event_id, ts, account_id, ip) VALUES (?, ?, ?, ?)",
            [(f"e{i}", t0 + timedelta(minutes=i), a, f"81.{i % 200}.{i // 200}.9")
             for i, a in enumerate(pool + others)],
        )  # fmt: skip
        ctx = ScanContext(
            Sources.from_backend(store.ibis()),
            pd.DataFrame({"account_id": pool + others}),
            frozenset(store_inputs(store)["present"]),
        )
        out = SharedInfrastructure(max_group=200).run(ctx)
    links = [lk for lk in out.links if lk.a in pool and lk.b in pool]
    assert links and all(lk.link_type == "payment" and lk.weight < 0.3 for lk in links)
    assert {a for lk in links for a in (lk.a, lk.b)} == set(pool)
    assert len(links) <= 5 * len(pool)
    assert not any(lk.a in others or lk.b in others for lk in out.links)
