"""Identical prompts by hash (hash-only logs): an operator's accounts sending many of the same
prompts are tied firmly, a customer who sends one of them faintly, and a greeting everyone
sends or a five-token prompt ties nobody."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from stillwatch.detectors.base import ScanContext
from stillwatch.detectors.prompt_hashes import SharedPrompts
from stillwatch.engine.store import Store, open_store
from stillwatch.features.sources import Sources
from stillwatch.pipeline import store_inputs

OPS = [f"op{i}" for i in range(4)]


def _rows() -> list[tuple[str, str, int]]:
    """(account, prompt hash, input tokens)."""
    rows = []
    for op in OPS:  # twelve task prompts each, and three of its own
        rows += [(op, f"task{j}", 200) for j in range(12)]
        rows += [(op, f"{op}-own{j}", 200) for j in range(3)]
    # a customer who sent one of the operator's prompts among eleven of their own
    rows += [("cust", "task0", 200)] + [("cust", f"cust-own{j}", 200) for j in range(11)]
    # a greeting six accounts send (a hub when max_holders is 5)
    rows += [(f"greeter{i}", "hello", 200) for i in range(6)]
    # the same five-token prompt from two strangers
    rows += [("short0", "thanks", 5), ("short1", "thanks", 5)]
    return rows


def _store(tmp_path: Path) -> Store:
    store = open_store(tmp_path / "s.duckdb")
    t0 = datetime(2026, 5, 1)
    ex = [
        (f"e{i}", t0 + timedelta(minutes=i), a, h, n)
        for i, (a, h, n) in enumerate(_rows())
    ]  # fmt: skip
    store.con.executemany(
        "INSERT INTO exchanges (event_id, ts, account_id, prompt_sha256, input_tokens) "
        "VALUES (?, ?, ?, ?, ?)",
        ex,
    )
    return store


def _run(
    store: Store, min_shared: int = 1
) -> tuple[dict[str, float], dict[tuple[str, str], float]]:
    ctx = ScanContext(
        Sources.from_backend(store.ibis()),
        pd.DataFrame(),
        frozenset(store_inputs(store)["present"]),
    )
    d = SharedPrompts(min_prompts=10, min_shared=min_shared)
    d.max_holders = 5
    out = d.run(ctx)
    scores = dict(zip(out.account_ids, out.scores, strict=True))
    links = {(lk.a, lk.b): lk.weight for lk in out.links}
    assert all(lk.link_type == "prompt" for lk in out.links)
    return scores, links


def test_operator_accounts_tie_firmly_a_customer_faintly(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        scores, links = _run(store)
    # twelve shared prompts, each held by four accounts (five for task0)
    assert links[("op0", "op1")] == pytest.approx(
        1 - (1 - 1 / 2.584962500721156) * (1 - 1 / 2.321928094887362) ** 11, abs=1e-3
    )
    assert links[("cust", "op0")] == pytest.approx(1 / 2.584962500721156, abs=1e-3)
    assert links[("op0", "op1")] > 0.99 > 0.5 > links[("cust", "op0")]
    assert all(scores[op] == 1.0 for op in OPS)  # 12 of 15 prompts shared
    assert "cust" not in scores  # 1 of 12: under the ramp's start


def test_pairs_sharing_fewer_than_min_shared_prompts_are_not_tied(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        _, links = _run(store, min_shared=2)
    assert links[("op0", "op1")] > 0.99
    assert not any("cust" in pair for pair in links)  # one shared prompt


def test_hubs_and_short_prompts_tie_nobody(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        _, links = _run(store)
    tied = {x for pair in links for x in pair}
    assert not any(x.startswith(("greeter", "short")) for x in tied)


def test_not_needed_where_prompt_text_is_kept() -> None:
    from stillwatch.pipeline import _skip_reason

    d = SharedPrompts()
    with_text = frozenset({"exchanges.prompt", "exchanges.prompt_sha256"})
    assert "exchanges.prompt" in str(_skip_reason(d, with_text))
    assert _skip_reason(d, frozenset({"exchanges.prompt_sha256"})) is None
    assert "prompt_sha256" in str(_skip_reason(d, frozenset()))
