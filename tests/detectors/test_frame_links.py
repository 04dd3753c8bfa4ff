"""Frame links: every frame two accounts share counts, so an operator's accounts (sharing many
of its frames) are tied far more firmly than a customer who uses one of its phrases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import stillwatch.detectors.content as content
from stillwatch.detectors.content import FrameHoldings


def shared_frame_weights(
    incidence: pd.DataFrame, pairs: list[tuple[str, str]]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per pair of account ids: ``1 − Π(1 − w)`` over the frames both hold, how many they
    share, and the rarest of them (:class:`FrameHoldings` on the pairs' codes)."""
    h = FrameHoldings(incidence)
    xs = h.accounts.get_indexer([p[0] for p in pairs])
    ys = h.accounts.get_indexer([p[1] for p in pairs])
    weight, shared = h.weights(xs, ys)
    return weight, shared, h.rarest(xs, ys).tolist()


def test_pairs_sharing_more_frames_weigh_more() -> None:
    rows = [("op1", f"f{i}", 0.2) for i in range(10)] + [("op2", f"f{i}", 0.2) for i in range(10)]
    rows += [("customer", "f0", 0.2), ("stranger", "g", 0.5)]
    inc = pd.DataFrame(rows, columns=["account_id", "frame_id", "weight"])
    pairs = [("customer", "op1"), ("op1", "op2"), ("op1", "stranger")]
    weight, shared, top = shared_frame_weights(inc, pairs)
    assert weight[0] == pytest.approx(0.2)
    assert weight[1] == pytest.approx(1 - 0.8**10)
    assert weight[2] == 0.0
    assert shared.tolist() == [1, 10, 0]
    assert top[0] == "f0" and top[1].startswith("f") and top[2] == ""
    assert np.all((weight >= 0) & (weight < 1))


def test_rarest_shared_frame_is_the_first_of_largest_weight() -> None:
    """The rarest frame of each pair, taken for all pairs at once, is what a loop over the
    pairs with ``np.argmax`` (first of the largest weights, in frame-id order) gives."""
    rng = np.random.default_rng(0)
    for _ in range(20):
        rows = [(f"a{rng.integers(12)}", f"f{rng.integers(9)}") for _ in range(60)]
        inc = pd.DataFrame(rows, columns=["account_id", "frame_id"]).drop_duplicates()
        weights = {f: float(rng.choice([0.1, 0.5, 0.9])) for f in sorted(set(inc.frame_id))}
        inc["weight"] = inc.frame_id.map(weights)
        accounts = sorted(set(inc.account_id))
        pairs = [(a, b) for i, a in enumerate(accounts) for b in accounts[i + 1 :]]
        _, _, top = shared_frame_weights(inc, pairs)
        held = inc.groupby("account_id").frame_id.agg(set).to_dict()
        for (a, b), got in zip(pairs, top, strict=True):
            both = sorted(held[a] & held[b])
            assert got == (max(both, key=lambda f: weights[f]) if both else "")


def test_pairs_scored_in_chunks_give_what_one_pass_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    """The large scale scores millions of pairs ``PAIR_CHUNK`` at a time; chunks of 7 pairs
    give the weights, counts and rarest frames of one pass over all of them."""
    import stillwatch.detectors.content as content

    rng = np.random.default_rng(1)
    rows = [(f"a{rng.integers(15)}", f"f{rng.integers(10)}") for _ in range(90)]
    inc = pd.DataFrame(rows, columns=["account_id", "frame_id"]).drop_duplicates()
    inc["weight"] = rng.choice([0.1, 0.5, 0.9], size=len(inc))
    accounts = sorted(set(inc.account_id))
    pairs = [(a, b) for i, a in enumerate(accounts) for b in accounts[i + 1 :]]
    whole = shared_frame_weights(inc, pairs)
    monkeypatch.setattr(content, "PAIR_CHUNK", 7)
    chunked = shared_frame_weights(inc, pairs)
    assert len(pairs) > 7 * 3
    assert np.allclose(whole[0], chunked[0]) and (whole[1] == chunked[1]).all()
    assert whole[2] == chunked[2]


def test_array_pairs_and_top_k_are_what_the_pair_by_pair_forms_give() -> None:
    """``FrameHoldings.links`` (integer codes, eight bytes a pair) keeps the links that
    ``holder_pairs``, ``shared_frame_weights`` and ``top_k_links`` (Python tuples) keep: the
    same pairs, small groups whole and large ones on a ring, the same top partners."""
    from stillwatch.detectors.content import FrameHoldings
    from stillwatch.detectors.pairs import holder_pairs, top_k_links

    rng = np.random.default_rng(7)
    for trial in range(6):
        n_accounts, n_frames = 60, 14
        rows = [(f"acct_{rng.integers(n_accounts):03d}", f"f{rng.integers(n_frames)}")
                for _ in range(400)]  # fmt: skip
        rows += [(f"acct_{i:03d}", "wide") for i in range(0, n_accounts, 2)]  # 30 holders
        inc = pd.DataFrame(rows, columns=["account_id", "frame_id"]).drop_duplicates()
        weights = {f: float(rng.choice([0.1, 0.3, 0.6])) for f in sorted(set(inc.frame_id))}
        inc["weight"] = inc.frame_id.map(weights)
        max_group, neighbours, top_k = 12, 3, 1 + trial
        pairs = sorted(holder_pairs(inc, "frame_id", max_group, neighbours))
        weight, shared, top = shared_frame_weights(inc, pairs)
        expected = top_k_links("d", [
            (x, y, float(w), "frame", {"frame_id": f, "frames": int(n), "weight": round(float(w), 4)})
            for (x, y), w, n, f in zip(pairs, weight, shared, top, strict=True)
        ], top_k)  # fmt: skip
        got = FrameHoldings(inc).links(
            "d", "frame", max_group, neighbours, top_k,
            lambda f, n, w: {"frame_id": f, "frames": n, "weight": w},
        )  # fmt: skip
        assert len(got) > 20
        assert [(c.a, c.b, c.weight, dict(c.evidence)) for c in got] == [
            (c.a, c.b, c.weight, dict(c.evidence)) for c in expected
        ]
        # coded by the store (as prompts.shared-hashes does), the frames named on demand
        accounts = pd.Index(sorted(set(inc.account_id)))
        frames = pd.Index(sorted(set(inc.frame_id)))
        asked: list[int] = []

        def name_of(
            codes: np.ndarray, frames: pd.Index = frames, asked: list = asked
        ) -> np.ndarray:
            asked.extend(codes.tolist())
            return np.asarray(frames[codes], dtype=object)

        coded = FrameHoldings.from_codes(
            accounts.get_indexer(inc.account_id).astype(np.int64),
            frames.get_indexer(inc.frame_id).astype(np.int64), inc.weight.to_numpy(float),
            accounts, len(frames), name_of,
        ).links(
            "d", "frame", max_group, neighbours, top_k,
            lambda f, n, w: {"frame_id": f, "frames": n, "weight": w},
        )  # fmt: skip
        assert [(c.a, c.b, c.weight, dict(c.evidence)) for c in coded] == [
            (c.a, c.b, c.weight, dict(c.evidence)) for c in expected
        ]
        assert len(asked) == len(got)  # only the frames the links cite are named


def test_pair_weights_are_the_three_products_bit_for_bit() -> None:
    """One product per chunk (``x``'s logs where ``y`` holds) gives, bit for bit, the weights,
    counts and rarest frames of the products of ``held`` rows, then of the logs and weights
    with those: also with weights of 0 (stored in ``held`` only) and a holding given twice."""
    rng = np.random.default_rng(3)
    for zeros in (False, True):
        rows = [(f"a{rng.integers(20)}", f"f{rng.integers(25)}") for _ in range(300)]
        inc = pd.DataFrame(rows, columns=["account_id", "frame_id"])
        inc["weight"] = rng.choice([0.0, 0.2, 0.7] if zeros else [0.05, 0.2, 0.7], size=len(inc))
        inc["weight"] += rng.random(len(inc)) * 0.01 * (inc.weight > 0)
        h = FrameHoldings(inc)
        assert (h.log_miss.data == 0).any() == zeros
        n = len(h.accounts)
        xs, ys = (c.ravel() for c in np.triu_indices(n, 1))
        weight, shared = h.weights(xs, ys)
        both = h.held[xs].multiply(h.held[ys]).tocsr()
        expected = 1.0 - np.exp(np.asarray(h.log_miss[xs].multiply(both).sum(axis=1)).ravel())
        assert weight.tobytes() == expected.tobytes()
        assert (shared == np.asarray(both.sum(axis=1)).ravel()).all()
        top = content._rarest(h.weighted[xs].multiply(both).tocsr())
        named = h.rarest(xs, ys)
        assert (named[top < 0] == "").all()
        assert named[top >= 0].tolist() == [h.name_of(np.array([c]))[0] for c in top[top >= 0]]


def test_top_k_by_packed_keys_is_the_lexsort_order() -> None:
    """``top_k_mask`` orders both ends by one sort of packed keys (the weight's rank between
    the two codes) where they fit: the pairs a lexsort by end, weight (descending) and the
    other end keeps, with ties of weight, and NaN or codes too wide left to the lexsort."""
    from stillwatch.detectors import pairs as pairs_module

    def by_lexsort(xs: np.ndarray, ys: np.ndarray, weight: np.ndarray, top_k: int) -> np.ndarray:
        n = len(xs)
        end = np.concatenate([xs, ys])
        order = np.lexsort((np.concatenate([ys, xs]), -np.concatenate([weight, weight]), end))
        end = end[order]
        starts = np.flatnonzero(np.r_[True, end[1:] != end[:-1]])
        rank = np.arange(2 * n) - np.repeat(starts, np.diff(np.r_[starts, 2 * n]))
        keep = np.zeros(n, dtype=bool)
        keep[order[rank < top_k] % n] = True
        return keep

    rng = np.random.default_rng(5)
    for trial in range(12):
        n_accounts = [30, 300, 2**40][trial % 3]
        codes = rng.integers(0, n_accounts, size=(900, 2))
        codes = np.unique(np.sort(codes[codes[:, 0] != codes[:, 1]], axis=1), axis=0)
        xs, ys = codes[:, 0], codes[:, 1]
        weight = np.round(rng.random(len(xs)), 1 + trial % 3)
        if trial % 4 == 3:
            weight[::9] = np.nan
        packed = pairs_module._by_end_weight_other(xs, ys, weight, int(codes.max()))
        assert (packed is None) == (n_accounts == 2**40 or trial % 4 == 3)
        for top_k in (1, 3, 10):
            got = pairs_module.top_k_mask(xs, ys, weight, top_k)
            assert (got == by_lexsort(xs, ys, weight, top_k)).all()
            assert 0 < got.sum() < len(xs) or top_k == 10 or n_accounts == 2**40
