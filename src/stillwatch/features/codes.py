"""Integer codes in NumPy arrays: what the pair finders (MinHash neighbours, frame and prompt
holders) share."""

from __future__ import annotations

import numpy as np


def distinct(codes: np.ndarray) -> np.ndarray:
    """``np.unique(codes)`` for integer codes, by sorting: NumPy 2's ``unique`` hashes, which
    took 67 s where a sort takes 0.8 s (40 million 64-bit codes)."""
    codes = np.sort(codes)
    return codes[np.r_[True, codes[1:] != codes[:-1]]] if len(codes) else codes
