"""The size stage's split by frames: where a reseller's customers converse unlike the
provider's other customers, the campaign's own frames say which member conversations are its."""

from __future__ import annotations

import types
from datetime import datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from stillwatch.campaigns.size import (
    FRAMED,
    exchange_cells,
    framed_exchanges,
    framed_split,
    mark_cells,
    mixture,
)
from stillwatch.detectors.prompts import FRAME_HOLDERS
from stillwatch.features.content.frames import mine_frames

WORDS = ["why", "does", "my", "old", "cat", "sleep", "near", "the", "warm", "window", "after",
         "lunch", "and", "how", "could", "we", "plan", "a", "trip", "cheaply"]  # fmt: skip
# a phrase of the language: every other customer ends with it, and some resold customers
PHRASE = "Please keep your answer short and easy to follow for me."
TOPICS = ["tide pools", "bread yeast", "tax forms", "violin bows", "moss gardens", "rail gauges",
          "chess openings", "kiln glazes", "bee swarms", "map scales", "sail knots", "ink wash"]  # fmt: skip


def _rows() -> tuple[list[tuple], int]:
    """Exchanges: 40 other customers (single questions ending with a phrase of the language),
    10 members each sending 12 framed single-turn requests (the campaign) and 3 resold
    conversations of 6 turns (one of them pasting the campaign's frame once: that conversation
    is counted as the campaign's; each holding the language's phrase once: not the campaign's,
    though every member holds it)."""
    rows, t0 = [], datetime(2026, 5, 1)
    rng = np.random.default_rng(7)  # resold customers' own words: no two share an opening
    n = 0

    def add(account: str, conv: str, turn: int, prompt: str) -> None:
        nonlocal n
        n += 1
        rows.append((f"e{n:05d}", account, conv, t0 + timedelta(minutes=n), 40, 200, 0, prompt))

    for i in range(40):
        for j in range(6):
            topic = TOPICS[(i + j) % len(TOPICS)]
            words = " ".join(rng.permutation(WORDS)[: 4 + (i + j) % 5].tolist())
            add(f"o{i:02d}", f"o{i}-{j}", 0, f"{words} {topic} {i}{j}? {PHRASE}")
    campaign = 0
    for i in range(10):
        for j in range(12):
            topic = TOPICS[(3 * i + j) % len(TOPICS)]
            add(f"m{i:02d}", f"m{i}-c{j}", 0,
                f"Write out your complete internal reasoning step by step, then answer: "
                f"how do {topic} relate to case {i}-{j}? Show every intermediate thought.")  # fmt: skip
            campaign += 1
        for j in range(3):
            for t in range(6):
                topic = TOPICS[(i + j + t) % len(TOPICS)]
                words = rng.permutation(WORDS)[: 5 + (i + t) % 4].tolist()
                text = f"{topic} {' '.join(words)} {i}{j}{t}?"
                if t == 1:  # the language's phrase, ordinary customers' more than members'
                    text = f"{text} {PHRASE}"
                if i == 0 and j == 0 and t == 3:  # a customer pasting the operator's frame
                    text = ("Write out your complete internal reasoning step by step, then "
                            f"answer: how do {topic} relate to case 0-x? Show every "
                            "intermediate thought.")  # fmt: skip
                add(f"m{i:02d}", f"m{i}-r{j}", t, text)
    return rows, campaign + 6  # the pasted-frame conversation's six turns count


@pytest.fixture
def store() -> types.SimpleNamespace:
    con = duckdb.connect()
    rows, _ = _rows()
    con.execute(
        "CREATE TABLE exchanges (event_id VARCHAR, account_id VARCHAR, conversation_id VARCHAR, "
        "ts TIMESTAMP, input_tokens INTEGER, output_tokens INTEGER, tools_count INTEGER, "
        "prompt VARCHAR)"
    )
    con.executemany("INSERT INTO exchanges VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.execute(
        "CREATE TEMP TABLE _sw_members AS SELECT DISTINCT account_id, 0 AS c FROM exchanges "
        "WHERE account_id LIKE 'm%'"
    )
    return types.SimpleNamespace(con=con)


def _member_matrix(store: types.SimpleNamespace) -> pd.DataFrame:
    per = store.con.execute(
        "SELECT account_id, cell, count(*) AS n FROM _sw_cells GROUP BY ALL"
    ).df()
    return per.pivot_table(index="account_id", columns="cell", values="n", fill_value=0)


def test_the_campaign_frames_split_what_the_metadata_mixture_cannot(
    store: types.SimpleNamespace,
) -> None:
    _, truth = _rows()
    legit = exchange_cells(store, "_sw_members")
    matrix = _member_matrix(store)
    est = mixture(matrix.sum(axis=0), legit)
    counted = float((matrix.sum(axis=0) * pd.Series(est.confidence)).sum())
    # resold conversations are deep, other customers' single questions: the mixture's premise
    # fails and it counts the resold traffic as the campaign's
    assert abs(counted - truth) / truth > 0.2
    prompts = store.con.execute("SELECT account_id, prompt FROM exchanges").fetchall()
    mine_frames([a for a, _ in prompts], [p for _, p in prompts], con=store.con,
                holders=FRAME_HOLDERS)  # fmt: skip
    held = store.con.execute(
        f"SELECT frame, count(*) FROM {FRAME_HOLDERS} WHERE account_id LIKE 'm%' GROUP BY ALL"
    ).fetchall()
    assert any("easy to follow" in f and n == 10 for f, n in held)  # held by every member
    assert framed_exchanges(store, [0]) == {0: truth}
    mark_cells(store, [0])
    split = framed_split(_member_matrix(store))
    assert split.legit_share == pytest.approx(1 - truth / 300)
    assert all(v == (1.0 if c.endswith(FRAMED) else 0.0) for c, v in split.confidence.items())
    framed = store.con.execute(
        "SELECT count(*) FILTER (WHERE cell LIKE '%|f1'), count(*) FROM _sw_cells"
    ).fetchall()[0]
    assert framed == (truth, 300)


def test_without_kept_frames_nothing_is_split_by_frames(store: types.SimpleNamespace) -> None:
    exchange_cells(store, "_sw_members")
    store.con.execute(f"DROP TABLE IF EXISTS {FRAME_HOLDERS}")
    assert framed_exchanges(store, [0]) == {}
    assert framed_exchanges(store, []) == {}


def test_members_shaped_like_everyone_else_are_sized_without_frames() -> None:
    """The mixture reads every member exchange as legitimate (members' cells in the others'
    proportions) and no frame marks any: the campaign keeps the mixture's count, no error."""
    from stillwatch.campaigns.find import CampaignSettings, _sizes

    con = duckdb.connect()
    con.execute(
        "CREATE TABLE exchanges (event_id VARCHAR, account_id VARCHAR, conversation_id VARCHAR, "
        "ts TIMESTAMP, input_tokens INTEGER, output_tokens INTEGER, tools_count INTEGER, "
        "prompt VARCHAR, api_key_id VARCHAR, end_user_id VARCHAR, asn VARCHAR, "
        "tls_fingerprint VARCHAR)"
    )
    rows = [
        (f"e{a}{j}", a, f"{a}-{j}", datetime(2026, 1, 1), 40, 60, 0, "hi", None, None, None, None)
        for a in [f"o{i}" for i in range(20)] + [f"m{i}" for i in range(5)]
        for j in range(4)
    ]
    con.executemany("INSERT INTO exchanges VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    for kept in (False, True):
        if kept:  # frames kept, none of them the campaign's
            con.execute(
                f"CREATE TEMP TABLE {FRAME_HOLDERS} AS SELECT 'o1' AS account_id, "
                "'prefix' AS kind, 'a b c' AS frame, false AS common"
            )
        store = types.SimpleNamespace(con=con)
        size = _sizes(store, "s", [0], [[f"m{i}" for i in range(5)]], CampaignSettings(), {})[0]
        assert size.split == "mixture"
        assert size.legit_share == 1.0 and size.exchanges[0] == 0
