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


def _store(
    tmp_path: Path, extra: tuple[tuple[str, str, int, int | None, str | None, str | None], ...] = ()
) -> Store:
    """The rows above (opening prompts, no text), then ``extra`` rows: (account, hash,
    tokens, turn_index, conversation_id, prompt text)."""
    store = open_store(tmp_path / "s.duckdb")
    t0 = datetime(2026, 5, 1)
    rows = [(a, h, n, 0, None, None) for a, h, n in _rows()] + list(extra)
    ex = [
        (f"e{i:04d}", t0 + timedelta(minutes=i), a, h, n, turn, conv, text)
        for i, (a, h, n, turn, conv, text) in enumerate(rows)
    ]  # fmt: skip
    store.con.executemany(
        "INSERT INTO exchanges (event_id, ts, account_id, prompt_sha256, input_tokens, "
        "turn_index, conversation_id, prompt) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        ex,
    )
    return store


def _run(
    store: Store, min_shared: int = 1, ran: frozenset[str] = frozenset()
) -> tuple[dict[str, float], dict[tuple[str, str], float]]:
    ctx = ScanContext(
        Sources.from_backend(store.ibis()),
        pd.DataFrame(),
        frozenset(store_inputs(store)["present"]),
        ran=set(ran),
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


def test_follow_ups_do_not_tie(tmp_path: Path) -> None:
    """A follow-up turn, or a later exchange of a conversation whose turns are not logged, is
    not an opening prompt: two strangers who both wrote "continue" are not tied."""
    extra = [("x0", "continue", 200, 1, "c0", None), ("x1", "continue", 200, 3, "c1", None),
             ("y0", "first-y0", 200, None, "c2", None), ("y0", "go-on", 200, None, "c2", None),
             ("y1", "first-y1", 200, None, "c3", None), ("y1", "go-on", 200, None, "c3", None),
             ("z0", "plain", 200, None, None, None), ("z1", "plain", 200, None, None, None)]  # fmt: skip
    with _store(tmp_path, tuple(extra)) as store:
        _, links = _run(store)
    tied = {x for pair in links for x in pair}
    assert not tied & {"x0", "x1", "y0", "y1"}
    assert ("z0", "z1") in links  # no turn, no conversation: each exchange is its own opening


def test_where_frames_read_the_text_only_hash_only_rows_count(tmp_path: Path) -> None:
    """Rows with prompt text are the frame detectors' once they have run; rows without text
    (a hash-only source beside a full one) are still read here."""
    extra = [(f"t{i}", f"shared{j}", 200, 0, None, "the text") for i in range(2) for j in range(3)]
    extra += [(f"h{i}", f"hashonly{j}", 200, 0, None, None) for i in range(2) for j in range(3)]
    with _store(tmp_path, tuple(extra)) as store:
        _, without_frames = _run(store)
        _, after_frames = _run(store, ran=frozenset({"content.shared-frames"}))
    assert ("t0", "t1") in without_frames and ("h0", "h1") in without_frames
    assert ("t0", "t1") not in after_frames and ("h0", "h1") in after_frames
    assert ("op0", "op1") in after_frames
