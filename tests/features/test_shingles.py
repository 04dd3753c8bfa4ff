"""Shingles hashed with NumPy are the word 3-grams DuckDB's skeleton split gives, one hash per
distinct 3-gram; the repeated phrasing per account is what counting prompts by hand gives."""

from __future__ import annotations

import random
from collections import defaultdict

import duckdb
import numpy as np
import pyarrow as pa

from stillwatch.features.content.frames import skeleton_words
from stillwatch.features.content.minhash import repeated_shingles
from stillwatch.features.content.shingles import shingles

WORDS = ["review", "the", "<NUM>", "<STR>", "code", "and", "fix", "é", "naïve", "{x}", "?", "。"]
CJK = ["请", "检查", "代码", "并", "修复", "ｘ", "カタ", "한국"]


def _skeletons(n: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    out = ["", "one", "two words", "line one\nline two and three", "请检查代码", "abc请d"]
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 14)):
            parts.append(rng.choice(CJK) if rng.random() < 0.25 else rng.choice(WORDS))
            parts.append(
                rng.choice([" ", " ", "\n", ""]) if parts[-1] in CJK else rng.choice(" \n")
            )
        out.append("".join(parts).strip(" \n").replace("  ", " ").replace("\n\n", "\n"))
    return out


def _reference(skeletons: list[str]) -> list[list[tuple[str, ...]]]:
    """Each skeleton's 3-grams of the words DuckDB splits it into (all its words if fewer)."""
    con = duckdb.connect()
    con.register("t", pa.table({"i": range(len(skeletons)), "skeleton": skeletons}))
    words = [
        r[0]
        for r in con.execute(f"SELECT {skeleton_words('skeleton')} FROM t ORDER BY i").fetchall()
    ]
    out = []
    for w in words:
        w = [x for x in w if x != ""]
        out.append([tuple(w[j : j + 3]) for j in range(len(w) - 2)] if len(w) >= 3 else [tuple(w)])
    return out


def test_shingles_are_the_word_trigrams_of_the_skeleton_split() -> None:
    skeletons = _skeletons(3000)
    reference = _reference(skeletons)
    who, hashes = shingles(pa.array(skeletons))
    seen: dict[int, tuple[str, ...]] = {}
    named: dict[tuple[str, ...], int] = {}
    for i, grams in enumerate(reference):
        mine = hashes[who == i].tolist()  # a skeleton's shingles come in word order
        assert len(mine) == len(grams), (skeletons[i], grams)
        for gram, h in zip(grams, mine, strict=True):  # one hash per distinct 3-gram
            assert seen.setdefault(h, gram) == gram
            assert named.setdefault(gram, h) == h
    assert len(named) > 300


def test_no_shingle_crosses_from_one_skeleton_into_the_next() -> None:
    alone = [shingles(pa.array([s]))[1].tolist() for s in ("alpha beta", "gamma delta epsilon")]
    who, hashes = shingles(pa.array(["alpha beta", "gamma delta epsilon"]))
    assert [hashes[who == i].tolist() for i in range(2)] == alone


def test_repeated_shingles_count_prompts_per_account() -> None:
    rng = random.Random(9)
    skeletons, acc = [], []
    for a in range(40):
        for _ in range(rng.randint(1, 12)):
            acc.append(a)
            words = [rng.choice(WORDS[:4]) for _ in range(rng.randint(2, 9))]
            skeletons.append(" ".join(words))
    who, hashes = shingles(pa.array(skeletons))
    prompts: dict[tuple[int, int], set[int]] = defaultdict(set)
    for i, h in zip(who.tolist(), hashes.tolist(), strict=True):
        prompts[(acc[i], h)].add(i)
    for n in (1, 2, 3):
        got_acc, got_s = repeated_shingles(pa.array(skeletons), np.asarray(acc), n)
        got = sorted(zip(got_acc.tolist(), got_s.tolist(), strict=True))
        want = sorted(k for k, ps in prompts.items() if len(ps) >= n)
        assert got == want
        assert len(want) > 20
