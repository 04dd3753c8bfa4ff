"""Word 3-gram shingles of prompt skeletons, for a whole column at once: MinHash's input.

Words are what :func:`.frames.skeleton_words` splits a skeleton into: runs of bytes between
blanks (space, newline), and each CJK character a word of its own. A shingle is a hash of three
consecutive words of one skeleton, or of all its words when it has fewer than three. Like
:func:`.tokens.tokenize`, :func:`shingles` works on Arrow's buffers with NumPy — a lookup table
over (previous byte, byte) and one ``reduceat`` for the word hashes — with no Python loop per
prompt, and no word or shingle crosses from one skeleton into the next.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from stillwatch.features.content.tokens import as_binary, byte_buffers

_SEED = 20260423
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_NEXT = np.uint64(0x9E3779B97F4A7C15)
_NEXT2 = np.uint64(0x9E3779B97F4A7C15**2 % 2**64)
_SHORT = np.uint64(0xD6E8FEB86659FD93)  # salt of a skeleton's whole text, under three words
# Code points read as words of their own (frames._CJK): CJK punctuation, kana, ideographs,
# Hangul, compatibility ideographs, full-width forms; all three bytes long in UTF-8.
_CJK_RANGES = ((0x3000, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7AF),
               (0xF900, 0xFAFF), (0xFF00, 0xFFEF))  # fmt: skip


def _table() -> np.ndarray:
    """What each byte adds to its word's hash, by (previous byte in the word, byte); index
    ``byte`` alone (previous 0) for a word's first byte. Blanks add nothing."""
    rng = np.random.default_rng(_SEED)
    value = rng.integers(0, 2**63, size=(256, 256), dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    value[:, [32, 10]] = 0
    return np.ascontiguousarray(value).ravel()


_VALUE = _table()


def _mix(h: np.ndarray) -> np.ndarray:
    """A 64-bit finaliser (splitmix64), so that sums of word hashes spread over all bits."""
    h = h ^ (h >> np.uint64(30))
    h *= _MIX1
    h ^= h >> np.uint64(27)
    h *= _MIX2
    return h ^ (h >> np.uint64(31))


def _cjk_leads(data: np.ndarray) -> np.ndarray:
    """Positions of the first bytes of the CJK characters in UTF-8 ``data``."""
    lead = np.flatnonzero((data[:-2] & 0xF0) == 0xE0)
    lead = lead[((data[lead + 1] & 0xC0) == 0x80) & ((data[lead + 2] & 0xC0) == 0x80)]
    cp = ((data[lead].astype(np.int64) & 0x0F) << 12) | ((data[lead + 1].astype(np.int64) & 0x3F)
                                                         << 6) | (data[lead + 2] & 0x3F)  # fmt: skip
    cjk = np.zeros(len(lead), bool)
    for lo, hi in _CJK_RANGES:
        cjk |= (cp >= lo) & (cp <= hi)
    return lead[cjk]


def words(arr: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every word of every skeleton of ``arr``, skeleton after skeleton, and how many
    words each skeleton has."""
    arr = as_binary(arr)
    n = len(arr)
    offsets, data = byte_buffers(arr)
    if data is None or len(data) == 0:
        return np.zeros(0, np.uint64), np.zeros(n, np.int64)
    blank = (data == 32) | (data == 10)
    # a word starts at a non-blank byte after a blank, at a skeleton's first byte, at a CJK
    # character and right after one
    start = ~blank
    start[1:] &= blank[:-1]
    first = offsets[:-1][offsets[:-1] < len(data)]
    start[first] = ~blank[first]
    code = np.empty(len(data), np.uint16)
    code[0] = 0
    code[1:] = data[:-1]
    code <<= 8
    code |= data
    if (data >= 0xE0).any():
        lead = _cjk_leads(data)
        start[lead] = True
        after = lead + 3
        after = after[after < len(data)]
        start[after] = ~blank[after]
    starts = np.flatnonzero(start)
    code[starts] = data[starts]  # a word's first byte has no previous byte
    if len(starts) == 0:
        return np.zeros(0, np.uint64), np.zeros(n, np.int64)
    # blanks add nothing, and a skeleton starts with a word, so a word's sum ends at the next
    # word's start without taking anything of another word or skeleton
    hashes = _mix(np.add.reduceat(_VALUE[code], starts))
    counts = np.diff(np.searchsorted(starts, offsets))
    return hashes, counts


def shingles(arr: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Every shingle of every skeleton of ``arr``: the index of its skeleton, and its hash (in
    no particular order). A skeleton of one or two words has one shingle (its words); one
    without words has the shingle of the empty text."""
    hashes, counts = words(arr)
    owner = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    # three-word windows that stay within one skeleton
    whole = np.flatnonzero(owner[:-2] == owner[2:]) if len(owner) > 2 else np.zeros(0, np.int64)
    tri = _mix(hashes[whole] * _NEXT2 + hashes[whole + 1] * _NEXT + hashes[whole + 2])
    short = np.flatnonzero(counts < 3)
    if not len(short):
        return owner[whole], tri
    begin = np.concatenate([[0], np.cumsum(counts)[:-1]])[short]
    total = np.full(len(short), _SHORT, np.uint64)
    for k in range(2):
        has = counts[short] > k
        total[has] = total[has] * _NEXT + hashes[begin[has] + k]
    return np.concatenate([owner[whole], short]), np.concatenate([tri, _mix(total)])
