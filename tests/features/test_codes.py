"""Distinct integer codes by sorting are what np.unique gives, empty input included."""

from __future__ import annotations

import numpy as np

from stillwatch.features.codes import distinct


def test_distinct_codes_are_np_unique() -> None:
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 500, 2_000).astype(np.int64)
    assert np.array_equal(distinct(codes), np.unique(codes))
    assert distinct(np.zeros(0, dtype=np.int64)).tolist() == []
    assert distinct(np.array([7, 7, 7])).tolist() == [7]
