"""MinHash LSH finds planted near-duplicate accounts without comparing all pairs; the sample
is bounded and stable under row order."""

from __future__ import annotations

import itertools
import random

import numpy as np

from stillwatch.features.content.minhash import account_signatures
from stillwatch.features.content.sampling import sample_mask
from tests.features.planted_content import OPENERS, SYLLABLES

TEMPLATES = [
    "Please review the following function and list every bug you find, then rewrite it cleanly: {}",
    "Write unit tests covering the edge cases of this module, using pytest fixtures where helpful: {}",
]


def _traffic(seed: int = 3) -> tuple[list[str], list[str], list[str]]:
    rng = random.Random(seed)
    vocab = ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))) for _ in range(3000)]
    accounts, prompts = [], []
    for a in range(300):
        for _ in range(20):
            accounts.append(f"u{a}")
            prompts.append(
                f"{rng.choice(OPENERS)} "
                + " ".join(rng.choice(vocab) for _ in range(rng.randint(8, 30)))
            )
    for a in range(10):
        for _ in range(20):
            accounts.append(f"c{a}")
            words = " ".join(rng.choice(vocab) for _ in range(6))
            # paraphrased on some requests: a word swapped, so no two frames need match exactly
            template = rng.choice(TEMPLATES)
            if rng.random() < 0.3:
                template = template.replace("every", "each").replace("covering", "that cover")
            prompts.append(template.format(words))
    return accounts, prompts, [f"e{i}" for i in range(len(accounts))]


def test_lsh_finds_the_planted_group_without_all_pairs() -> None:
    accounts, prompts, events = _traffic()
    sig = account_signatures(accounts, prompts, events, per_account=50)
    pairs = sig.pairs.to_pylist()
    group = {f"c{a}" for a in range(10)}
    found = {
        (p["account_a"], p["account_b"]) for p in pairs if {p["account_a"], p["account_b"]} <= group
    }
    assert len(found) == 45
    assert all(p["similarity"] > 0.5 for p in pairs if {p["account_a"], p["account_b"]} <= group)
    n = len(set(accounts))
    assert len(pairs) < 0.01 * n * (n - 1) / 2
    assert not [p for p in pairs if not {p["account_a"], p["account_b"]} <= group]


def test_a_big_bucket_is_chained_not_all_pairs() -> None:
    accounts = [f"h{a:03d}" for a in range(200) for _ in range(5)]
    prompts = [
        f"Solve this task and show the final result only, no commentary please: item {i}"
        for i in range(1000)
    ]
    sig = account_signatures(accounts, prompts, per_account=5, common_share=1.0, max_bucket=50)
    assert 199 <= sig.pairs.num_rows < 200 * 199 / 2 / 10


def test_sample_is_bounded_and_stable_under_row_order() -> None:
    accounts, _, events = _traffic()
    mask = sample_mask(events, accounts, per_account=5)
    kept = set(np.asarray(events)[mask])
    assert len(kept) == 310 * 5
    perm = np.random.default_rng(0).permutation(len(events))
    mask2 = sample_mask([events[i] for i in perm], [accounts[i] for i in perm], per_account=5)
    assert set(np.asarray(events)[perm][mask2]) == kept


def test_counting_in_batches_or_partitions_of_accounts_changes_nothing(monkeypatch) -> None:
    from stillwatch.features.content import minhash

    accounts, prompts, events = _traffic()
    whole = account_signatures(accounts, prompts, events, per_account=50)
    monkeypatch.setattr(minhash, "BATCH_PROMPTS", 97)  # batches of whole accounts
    monkeypatch.setattr(minhash, "CHUNK_ROWS", 30)  # chunks of whole accounts per thread
    batches = account_signatures(accounts, prompts, events, per_account=50)
    monkeypatch.setattr(minhash, "_account_batches", lambda con, table: None)
    parts = account_signatures(accounts, prompts, events, per_account=50)  # acc % parts
    for other in (batches, parts):
        assert other.accounts == whole.accounts
        assert np.array_equal(other.signatures, whole.signatures)
        assert other.pairs.equals(whole.pairs)


def test_a_phrase_repeated_inside_one_prompt_is_not_repeated_phrasing() -> None:
    """Shingles count once per prompt: a phrase said many times in one prompt is not the
    account's repeated phrasing, the same phrase in two of its prompts is."""
    phrase = "kindly grade the answer below with care "
    once = ["alpha beta gamma delta", phrase * 5 + "omega", "zeta eta theta iota kappa"]
    twice = ["alpha beta gamma delta", phrase + "omega", phrase + "sigma tau"]
    accounts = ["once"] * 3 + ["twice"] * 3
    sig = account_signatures(accounts, once + twice, min_shingles=1)
    assert sig.accounts == ["twice"]
    assert int(sig.shingles[0]) == 5  # the phrase's 3-grams: its 7 words less two
    # counted at least three times: the third prompt must hold the shingle too
    three = account_signatures(accounts, once + twice, min_shingles=1, min_repeats=3)
    assert three.accounts == []


def test_band_pairs_are_every_pair_agreeing_on_a_band_and_chains_in_big_buckets(
    monkeypatch,
) -> None:
    """``lsh_pairs`` (pairs as integer codes, similarity a chunk at a time) gives what a plain
    loop over each band's buckets gives: all pairs in a bucket up to ``max_bucket``, the
    sorted members chained above it; each pair's similarity the share of equal values."""
    from stillwatch.features.content import minhash

    monkeypatch.setattr(minhash, "SIMILARITY_CHUNK", 7)  # many chunks
    rng = np.random.default_rng(5)
    n, width, bands, max_bucket = 300, 16, 4, 6
    sig = rng.integers(0, 2**32, size=(n, width), dtype=np.uint64).astype(np.uint32)
    for size in (2, 3, 5, 9, 20):  # groups agreeing on some bands, one far above max_bucket
        base = sig[rng.integers(n)].copy()
        for m in rng.choice(n, size, replace=False):
            row = base.copy()
            changed = rng.choice(width, rng.integers(0, width), replace=False)
            row[changed] = rng.integers(0, 2**32, len(changed))
            sig[m] = row
    expected: set[tuple[int, int]] = set()
    rows = width // bands
    for b in range(bands):
        buckets: dict[bytes, list[int]] = {}
        for i in range(n):
            buckets.setdefault(sig[i, b * rows : (b + 1) * rows].tobytes(), []).append(i)
        for members in buckets.values():
            if len(members) > max_bucket:
                expected |= set(itertools.pairwise(members))
            else:
                expected |= {(x, y) for i, x in enumerate(members) for y in members[i + 1 :]}
    accounts = [f"a{i:03d}" for i in range(n)]
    got = minhash.lsh_pairs(accounts, sig, bands=bands, max_bucket=max_bucket, min_similarity=0.3)
    want = sorted(p for p in expected if (sig[p[0]] == sig[p[1]]).mean() >= 0.3)
    assert len(want) > 20
    assert list(zip(got["account_a"].to_pylist(), got["account_b"].to_pylist(), strict=True)) == [
        (accounts[x], accounts[y]) for x, y in want
    ]
    assert list(zip(got["a"].to_pylist(), got["b"].to_pylist(), strict=True)) == want
    assert got["similarity"].to_pylist() == [(sig[x] == sig[y]).mean() for x, y in want]
