"""Frame mining on planted traffic: the campaign's frame is found; a popular question and a
common system prompt are not counted as campaign frames."""

from __future__ import annotations

import random
from typing import Any

import pytest

from stillwatch.features.content.frames import mine_frames
from tests.features.planted_content import planted


@pytest.fixture(scope="module")
def found():
    accounts, prompts, campaign = planted()
    return mine_frames(accounts, prompts), campaign


def test_the_campaign_frame_is_found_and_only_its_accounts_use_it(found) -> None:
    stats, campaign = found
    frames = stats.frames.to_pylist()
    campaign_frames = [f for f in frames if not f["common"]]
    assert campaign_frames, "no campaign frame found"
    assert any("strict judge" in f["frame"] or "number only" in f["frame"] for f in campaign_frames)
    users = {r["account_id"] for r in stats.incidence.to_pylist()}
    assert users == campaign
    per_account = {r["account_id"]: r for r in stats.accounts.to_pylist()}
    for acc in campaign:
        assert per_account[acc]["frame_share"] == 1.0
        assert per_account[acc]["max_sharing_accounts"] == len(campaign) - 1
    organic = [r for a, r in per_account.items() if a not in campaign]
    assert max(r["frame_share"] for r in organic) == 0.0


def test_popular_question_and_common_system_prompt_are_not_campaign_frames(found) -> None:
    stats, _ = found
    for f in stats.frames.to_pylist():
        assert "meaning of life" not in f["frame"]
        if "helpful assistant" in f["frame"]:
            assert f["common"] and f["weight"] == 0.0


def test_shuffled_rows_give_the_same_frames() -> None:
    import random

    accounts, prompts, _ = planted(seed=2)
    rows = list(zip(accounts, prompts, strict=True))
    random.Random(0).shuffle(rows)
    a = mine_frames(accounts, prompts)
    b = mine_frames([r[0] for r in rows], [r[1] for r in rows])
    assert (
        a.frames.sort_by("frame_id")
        .drop(["example"])
        .equals(b.frames.sort_by("frame_id").drop(["example"]))
    )
    assert a.accounts.equals(b.accounts)


def test_empty_and_misaligned_input() -> None:
    stats = mine_frames([], [])
    assert stats.frames.num_rows == 0 and stats.accounts.num_rows == 0
    with pytest.raises(ValueError, match="texts has 1"):
        mine_frames(["a", "b"], ["x"])


def test_a_frame_shorter_than_the_key_is_found_and_each_end_holds_its_longest() -> None:
    """Six words before varied content: the 10-token key holds slot words and never recurs;
    the short key does. Where the long key recurs too, the end holds the long one only."""
    import random

    rng = random.Random(3)
    words = [
        "alpha",
        "beta",
        "gamma",
        "delta",
        "epsilon",
        "zeta",
        "eta",
        "theta",
        "iota",
        "kappa",
        "lambda",
    ]
    accounts, prompts = [], []
    for i in range(8):
        for _ in range(6):
            slot = " ".join(rng.choice(words) for _ in range(12))
            accounts.append(f"short{i}")
            prompts.append(f"Draft a milestone schedule toward this: {slot}")
            accounts.append(f"long{i}")
            prompts.append(f"Please act as a strict grader and mark this essay now: {slot}")
    stats = mine_frames(accounts, prompts)
    prefixes = {f["frame"]: f for f in stats.frames.to_pylist() if f["kind"] == "prefix"}
    assert "draft a milestone schedule toward this:" in prefixes, prefixes
    long_keys = [k for k in prefixes if k.startswith("please act as")]
    assert len(long_keys) == 1 and len(long_keys[0].split()) == 10, long_keys
    per_account = {r["account_id"]: r for r in stats.accounts.to_pylist()}
    assert all(per_account[f"short{i}"]["frame_share"] == 1.0 for i in range(8))
    # one frame per prompt end: the long frame's 6-word beginning is not a second frame
    assert all(per_account[f"long{i}"]["frames"] == 1 for i in range(8))


def _random_prompts(seed: int, n: int) -> list[str]:
    """Prompts of short words, blanks and newlines whose 240th character falls on every kind
    of character (a word, a space, a newline), some with slot content, accents, no-break
    spaces or CJK, some mostly CJK (a word per character)."""
    import random

    rng = random.Random(seed)
    extras = ["42", "x_1", "Alice", "café", "你好", "naïve", "“quoted”", "<b>", "a\tb", "\xa0",
              "x\xa0y", "中\xa0", "<num>中"]  # fmt: skip
    prompts = []
    for _ in range(n):
        parts = []
        longest = rng.choice([6, 6, 30, 60, 250])
        letters = rng.choice(["abcdefgh", "abcdefgh", "中文字词句あア한"])
        for _ in range(rng.randint(1, 90)):
            word = "".join(rng.choice(letters) for _ in range(rng.randint(1, longest)))
            parts.append(rng.choice(extras) if rng.random() < 0.04 else word)
            parts.append(rng.choice([" ", " ", " ", "\n", "  ", " \n"]))
        prompts.append("".join(parts))
    return prompts


def _prompts_table(seed: int, n: int, accounts: int) -> tuple[Any, list[str]]:
    """A scratch connection holding table ``_t_prompts`` of :func:`_random_prompts` spread
    over ``accounts`` accounts, and the prompts."""
    import pyarrow as pa

    from stillwatch.engine.store import scratch_connection

    prompts = _random_prompts(seed, n)
    con = scratch_connection()
    ids = [f"a{i % accounts}" for i in range(len(prompts))]
    con.register("_t_prompts", pa.table({"account_id": ids, "prompt": prompts}))
    return con, prompts


def test_keys_from_regular_expressions_equal_keys_from_word_lists() -> None:
    """An ASCII skeleton's keys come from regular expressions, not lists of words: the same
    keys, whatever the key lengths and wherever the edges cut."""

    from stillwatch.features.content.frames import (
        EDGE_CHARS,
        _keys_select,
        skeleton_table,
        words_of,
    )

    con, prompts = _prompts_table(5, 4000, 50)
    try:
        table = skeleton_table(con, "_t_prompts", "_t_skeletons")
        for lengths in ([10, 6], [6], [1], [12, 7, 3]):
            reference = f"""
                WITH tok AS (
                    SELECT account_id, rid, ph, {words_of(f"left(skeleton, {EDGE_CHARS})")} AS head,
                           {words_of(f"right(skeleton, {EDGE_CHARS})")} AS tail FROM {table}
                ),
                lengths AS (SELECT unnest({lengths}) AS k),
                cand AS (
                    SELECT account_id, rid, ph, 'prefix' AS kind, k, list_slice(head, 1, k) AS kt
                    FROM tok, lengths WHERE len(head) > k
                    UNION ALL
                    SELECT account_id, rid, ph, 'suffix' AS kind, k, list_slice(tail, -k, -1) AS kt
                    FROM tok, lengths WHERE len(tail) > k
                )
                SELECT account_id, rid, ph, kind, k, array_to_string(kt, ' ') AS frame,
                       len(list_filter(kt, lambda x: NOT regexp_full_match(x, '<[a-z]+>[^ ]*'))) AS words
                FROM cand"""
            new = _keys_select(table, lengths)
            rows = con.sql(f"SELECT count(*) FROM ({reference})").fetchall()[0][0]
            assert rows > len(prompts)
            for a, b in ((reference, new), (new, reference)):
                diff = con.sql(f"SELECT count(*) FROM (({a}) EXCEPT ALL ({b}))").fetchall()[0][0]
                assert diff == 0, (lengths, diff)
        non_ascii = con.sql(
            f"SELECT count(*) FROM {table} WHERE strlen(skeleton) <> length(skeleton)"
        ).fetchall()[0][0]
        assert 0 < non_ascii < len(prompts)  # both paths are taken
    finally:
        con.close()


def test_whole_skeleton_words_equal_words_of() -> None:
    from stillwatch.features.content.frames import skeleton_table, skeleton_words, words_of

    con, _ = _prompts_table(6, 2000, 1)
    try:
        table = skeleton_table(con, "_t_prompts", "_t_skeletons")
        differ = con.sql(
            f"SELECT count(*) FROM {table} "
            f"WHERE {words_of('skeleton')} IS DISTINCT FROM {skeleton_words('skeleton')}"
        ).fetchall()[0][0]
        assert differ == 0
    finally:
        con.close()


def _big_campaign(seed: int = 3) -> tuple[list[str], list[str], set[str]]:
    """300 accounts: five phrases of the language, each used by a random 30% of everyone;
    a campaign of 100 accounts (a third of all) running a set of five templates."""
    rng = random.Random(seed)
    vocab = [f"w{i}x" for i in range(4000)]

    def slot(n: int) -> str:
        return " ".join(rng.choice(vocab) for _ in range(n))

    phrases = [
        "{s} Let us think this through step by step, carefully.",
        "Please explain in plain words for a beginner what this means: {s}",
        "{s} Answer briefly and cite the sources you relied upon.",
        "Rewrite the following paragraph so that it reads more formally: {s}",
        "{s} Give me three alternatives and compare their tradeoffs.",
    ]
    templates = [
        "Serve as a senior grader. Score the solution below from one to ten: {s}",
        "{s} Detail your exhaustive reasoning trace, then offer a final verdict.",
        "Our lab is prototyping a pipeline for a research group; implement: {s}",
        "{s} Work through every case bit by bit and justify each step taken.",
        "Act as an operations agent with a container and shell access; do: {s}",
    ]
    campaign = {f"c{a:03d}" for a in range(100)}
    everyone = sorted(campaign | {f"u{a:03d}" for a in range(200)})
    accounts: list[str] = []
    prompts: list[str] = []
    for acc in everyone:
        for _ in range(rng.randint(4, 12)):
            accounts.append(acc)
            prompts.append(f"tell me about {slot(rng.randint(5, 12))}?")
        for p in phrases:
            if rng.random() < 0.3:
                for _ in range(3):
                    accounts.append(acc)
                    prompts.append(p.format(s=slot(8)))
        if acc in campaign:
            for t in templates:
                for _ in range(4):
                    accounts.append(acc)
                    prompts.append(t.format(s=slot(10)))
    return accounts, prompts, campaign


def test_a_campaign_larger_than_the_common_share_keeps_its_template_set() -> None:
    """The campaign is a third of all accounts, so each of its frames is used at a common
    phrase's rate; used together by the same accounts, they stay evidence, while the
    language's phrases (each used by a third of everyone, independently) stay common."""
    accounts, prompts, campaign = _big_campaign()
    stats = mine_frames(accounts, prompts)
    frames = stats.frames.to_pylist()
    language = [f for f in frames if "step by step" in f["frame"] or "plain words" in f["frame"]]
    assert language and all(f["common"] and f["weight"] == 0.0 for f in language)
    kept = [f for f in frames if not f["common"]]
    assert any("senior grader" in f["frame"] for f in kept)
    assert any("operations agent" in f["frame"] for f in kept)
    assert all(f["accounts"] > 0.05 * 300 for f in kept)
    users = {r["account_id"] for r in stats.incidence.to_pylist()}
    assert users == campaign
    share = {r["account_id"]: r["frame_share"] for r in stats.accounts.to_pylist()}
    assert min(share[a] for a in campaign) > 0.3
    assert max(v for a, v in share.items() if a not in campaign) == 0.0


def test_frames_counted_by_hash_equal_counts_of_their_text() -> None:
    """Keys are grouped by hash: every frame's accounts, prompts and median fills equal those
    counted here from the skeletons' own words (ASCII prompts shorter than the edges)."""
    import statistics
    from collections import defaultdict

    import pyarrow as pa

    from stillwatch.engine.store import scratch_connection
    from stillwatch.features.content.frames import MIN_FRAME_WORDS, skeleton_table

    accounts, prompts, _ = _big_campaign(seed=5)
    stats = mine_frames(accounts, prompts)
    con = scratch_connection()
    try:
        con.register("_t_prompts", pa.table({"account_id": accounts, "prompt": prompts}))
        table = skeleton_table(con, "_t_prompts", "_t_skeletons")
        rows = con.sql(f"SELECT account_id, ph, skeleton FROM {table}").fetchall()
    finally:
        con.close()
    assert all(len(s) < 200 and s.isascii() for _, _, s in rows)
    uses: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for account, ph, skeleton in rows:
        words = skeleton.replace("\n", " ").split(" ")
        for k in (6, 10):
            if len(words) > k:
                uses["prefix", " ".join(words[:k])][account].append(ph)
                uses["suffix", " ".join(words[-k:])][account].append(ph)
    frames = stats.frames.to_pylist()
    for phrase in ("senior grader", "operations agent", "exhaustive reasoning trace"):
        assert any(phrase in f["frame"] for f in frames), phrase
    for f in frames:
        assert len([w for w in f["frame"].split(" ") if not w.startswith("<")]) >= MIN_FRAME_WORDS
        users = uses[f["kind"], f["frame"]]
        assert f["accounts"] == len(users), f["frame"]
        assert f["prompts"] == sum(len(p) for p in users.values())
        assert f["median_fills"] == statistics.median(len(set(p)) for p in users.values())
        assert f["distinct_prompts"] <= len({ph for p in users.values() for ph in p})


def test_skeleton_table_in_one_statement_equals_batches(monkeypatch: Any) -> None:
    """A large table is masked in one statement, a small one through Arrow batches: the same
    rows, in the same order."""

    from stillwatch.features.content import frames

    con, _ = _prompts_table(7, 3000, 40)
    try:
        monkeypatch.setattr(frames, "SKELETON_BATCH_ROWS", 700)  # several batches
        batched = frames.skeleton_table(con, "_t_prompts", "_t_batched")
        monkeypatch.setattr(frames, "ONE_STATEMENT_ROWS", 1)
        whole = frames.skeleton_table(con, "_t_prompts", "_t_whole")
        rows = [con.sql(f"SELECT * FROM {t}").fetchall() for t in (batched, whole)]
        assert len(rows[0]) > 2900 and rows[0] == rows[1]
    finally:
        con.close()
