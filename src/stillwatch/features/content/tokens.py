"""Tokens of prompt text, for a whole column at once: the first pass of the content classifiers.

A prompt's request is stated at its ends (the instruction before or after pasted material), so
only its first ``HEAD_BYTES`` and last ``TAIL_BYTES`` bytes of UTF-8 are read (:func:`ends`).
Tokens are runs of ASCII letters and digits (lower-cased; every digit reads as ``0``, so numbers
of one shape are one token), each punctuation mark, and each non-ASCII character (a Chinese
character is a token, so token pairs are character bigrams). :func:`tokenize` finds them with
NumPy on Arrow's buffers — lookup tables over (previous byte, byte), one ``reduceat`` for the
token hashes — with no Python loop per prompt, and never lets a token, pair or stem cross from
one prompt into the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HEAD_BYTES = 320
TAIL_BYTES = 160
BITS = 18
_SEED = 20260422
_MIX = np.uint64(0x9E3779B97F4A7C15)
_BIGRAM = np.uint64(0x100000001B3)
UNI_SALT = np.uint64(0x51ED270B27A3F5C1)
BI_SALT = np.uint64(0x2545F4914F6CDD1D)


def _tables() -> tuple[np.ndarray, np.ndarray]:
    """Lookup tables over (previous byte, this byte): does this byte start a token, and what
    does it add to its token's hash (0 for blanks)."""
    low = np.arange(256, dtype=np.uint8)
    low[65:91] += 32
    low[48:58] = 48  # every digit reads as "0"
    cls = np.zeros(256, dtype=np.uint8)  # 0 blank, 1 letter/digit, 2 token of its own, 3 UTF-8 tail
    cls[[*range(48, 58), *range(65, 91), *range(97, 123)]] = 1
    cls[[c for c in range(33, 127) if cls[c] == 0]] = 2
    cls[0xC0:] = 2
    cls[0x80:0xC0] = 3
    rng = np.random.default_rng(_SEED)
    pair = rng.integers(0, 2**63, size=(256, 256), dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    prev_cls, cur_cls = cls[:, None], cls[None, :]
    start = (cur_cls == 2) | ((cur_cls == 1) & (prev_cls != 1))
    start = np.broadcast_to(start, (256, 256))
    value = np.where(start, pair[0][low][None, :], pair[low][:, low])
    value[:, cls == 0] = 0
    return np.ascontiguousarray(start).ravel(), np.ascontiguousarray(value).ravel()


_START, _VALUE = _tables()
STEM_BYTES = 5
_WORD = np.zeros(256, bool)
_WORD[[*range(65, 91), *range(97, 123)]] = True
_LOWER = np.arange(256, dtype=np.uint8)
_LOWER[65:91] += 32
STEM_SALT = np.uint64(0x3C6EF372FE94F82B)
_PUNCT = np.zeros(256, bool)
_PUNCT[[c for c in range(33, 127) if not chr(c).isalnum()]] = True


def as_binary(texts: Sequence[str | None] | pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(texts, pa.ChunkedArray):
        arr = texts.combine_chunks()
    elif isinstance(texts, pa.Array):
        arr = texts
    else:
        arr = pa.array(texts, pa.string())
    if pa.types.is_large_string(arr.type) or pa.types.is_string_view(arr.type):
        arr = arr.cast(pa.string())
    if pa.types.is_string(arr.type) and not arr.null_count:
        return arr.view(pa.binary())  # the same bytes where they lie: no copy
    return pc.fill_null(arr, "").cast(pa.binary())


def ends(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Each prompt's head, and its tail where it is longer than head and tail together
    (empty otherwise). Cuts may split a UTF-8 character; the stray bytes form their own token."""
    long = pc.greater(pc.binary_length(arr), HEAD_BYTES + TAIL_BYTES)
    head = pc.binary_slice(arr, 0, HEAD_BYTES)
    tail = pc.if_else(long, pc.binary_slice(arr, -TAIL_BYTES), pa.scalar(b"", pa.binary()))
    return head, tail


@dataclass(frozen=True)
class Tokens:
    counts: np.ndarray  # tokens per prompt
    hashes: np.ndarray  # token hashes, prompt after prompt
    pair_hashes: np.ndarray  # hashes of adjacent token pairs within a prompt
    pair_counts: np.ndarray  # pairs per prompt
    punct: np.ndarray  # punctuation tokens per prompt
    digit: np.ndarray  # number tokens per prompt
    stems: np.ndarray  # first STEM_BYTES letters of each word longer than that
    stem_counts: np.ndarray  # such words per prompt


def byte_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray | None]:
    """A binary array's offsets (from 0, one more than its rows) and bytes (None when it has
    none), read where Arrow holds them."""
    n = len(arr)
    raw = arr.buffers()
    offsets = np.frombuffer(raw[1], dtype=np.int32)[arr.offset : arr.offset + n + 1]
    offsets = offsets.astype(np.int64)
    data = np.frombuffer(raw[2], dtype=np.uint8)[offsets[0] : offsets[-1]] if raw[2] else None
    offsets -= offsets[0]
    return offsets, data


def tokenize(arr: pa.Array) -> Tokens:
    """The tokens of each prompt of a binary array, vectorised over the whole array."""
    n = len(arr)
    offsets, data = byte_buffers(arr)
    zero, empty = np.zeros(n, np.int64), np.zeros(0, np.uint64)
    if data is None or len(data) == 0:
        return Tokens(zero, empty, empty, zero, zero, zero, empty, zero)
    code = np.empty(len(data), np.uint16)
    code[0] = 0
    code[1:] = data[:-1]
    code <<= 8
    code |= data
    first = offsets[:-1][offsets[:-1] < len(data)]
    code[first] = data[first]  # a prompt's first byte has no previous byte
    is_start = _START[code]
    # a tail cut inside a character begins with UTF-8 continuation bytes: their own token,
    # so that they never join the previous prompt's last token
    is_start[first] |= (data[first] & 0xC0) == 0x80
    starts = np.flatnonzero(is_start)
    if len(starts) == 0:
        return Tokens(zero, empty, empty, zero, zero, zero, empty, zero)
    hashes = np.add.reduceat(_VALUE[code], starts)
    bounds = np.searchsorted(starts, offsets)
    counts = np.diff(bounds)
    initial = data[starts]
    kinds = np.zeros((2, len(starts) + 1), np.int64)
    np.cumsum(_PUNCT[initial], out=kinds[0, 1:])
    np.cumsum((initial >= 48) & (initial <= 57), out=kinds[1, 1:])
    per_prompt = np.diff(kinds[:, bounds], axis=1)
    keep = np.ones(len(hashes) - 1, bool)
    last = bounds[1:][counts > 0] - 1  # a prompt's last token pairs with no next one
    keep[last[last < len(keep)]] = False
    pairs = (hashes[:-1] * _BIGRAM + hashes[1:])[keep]
    # stems: a word of more than STEM_BYTES letters also counts by its first STEM_BYTES
    # ("analysis", "analyse", "analyze" share "analy"); read at each word's start, no byte loop
    padded = np.concatenate([data, np.zeros(STEM_BYTES + 1, np.uint8)])
    room = np.repeat(offsets[1:], counts) - starts  # bytes left in the token's own prompt
    stem = np.zeros(len(starts), np.uint64)
    long_word = room > STEM_BYTES
    for k in range(STEM_BYTES + 1):
        b = padded[starts + k]
        long_word &= _WORD[b]
        if k < STEM_BYTES:
            stem = stem * np.uint64(257) + _LOWER[b].astype(np.uint64)
    stem_cum = np.zeros(len(starts) + 1, np.int64)
    np.cumsum(long_word, out=stem_cum[1:])
    return Tokens(
        counts,
        hashes,
        pairs,
        np.maximum(counts - 1, 0),
        per_prompt[0],
        per_prompt[1],
        stem[long_word],
        np.diff(stem_cum[bounds]),
    )


def bucket(h: np.ndarray, salt: np.uint64, bits: int = BITS) -> np.ndarray:
    return (((h ^ salt) * _MIX) >> np.uint64(64 - bits)).astype(np.int32)
