"""Keyed MinHash signatures of prompt frames, so partners match near-duplicate templates.

A campaign that paraphrases or varies a slot changes a frame's exact hash but keeps most of
its word 3-grams. Each 3-gram of the skeleton is first replaced by its keyed hash under the
community key (domain ``prompt-skeleton-minhash/1``), and the MinHash (``rensa`` RMinHash,
128 permutations, seed 1) is taken over those: without the key a signature says nothing about
the text, and only members can compare. The share of equal positions in two signatures
estimates the Jaccard similarity of the two frames' 3-gram sets.

Known false positives: short frames share most 3-grams with any prompt in the same style;
the match threshold (``intel_minhash_min_similarity``) and the skeleton's minimum length bound
that.
"""

from __future__ import annotations

import numpy as np
from rensa import RMinHash

from stillwatch.intel.keys import CommunityKey

DOMAIN = "prompt-skeleton-minhash/1"
NUM_PERM = 128
SEED = 1
SHINGLE = 3
HEX_CHARS = NUM_PERM * 8


def keyed_minhash(key: CommunityKey, skeleton: str) -> np.ndarray:
    tokens = skeleton.split(" ")
    shingles = {" ".join(tokens[i : i + SHINGLE]) for i in range(max(1, len(tokens) - SHINGLE + 1))}
    items = [key.keyed_hash(DOMAIN, s)[:16] for s in sorted(shingles)]
    sketch = RMinHash(num_perm=NUM_PERM, seed=SEED)
    sketch.update(items)
    return np.asarray(sketch.digest(), dtype=np.uint32)


def encode(signature: np.ndarray) -> str:
    return signature.astype(">u4").tobytes().hex()


def decode(text: str) -> np.ndarray:
    if len(text) != HEX_CHARS:
        raise ValueError(f"a signature has {HEX_CHARS} hex digits, got {len(text)}")
    return np.frombuffer(bytes.fromhex(text), dtype=">u4").astype(np.uint32)


def similarity(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity of each of ``ours`` (n × 128) to each of ``theirs``."""
    a = np.atleast_2d(ours)
    b = np.atleast_2d(theirs)
    return (a[:, None, :] == b[None, :, :]).mean(axis=2)
