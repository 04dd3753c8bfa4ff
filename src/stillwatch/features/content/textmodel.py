"""The linear text model shared by the content classifiers: one featurising pass for both.

Features of a prompt's ends (:mod:`.tokens`): hashed (``2**BITS`` buckets) token unigrams,
bigrams and stems (the first five letters of longer words), counted and scaled by one over the
square root of the prompt's count; beside them, unscaled, the hand-made patterns of
:mod:`.patterns` (keyword groups, their conjunctions, shape bins). Each classifier is a
multinomial logistic regression over these features; the capability classifier also weighs
the mean static vector of the prompt's words (:mod:`.wordvectors`), folded at training time
into one weight per word and class (``word_weights``), averaged over the prompt's words that
have a vector. :func:`features` runs once on a whole
column; any number of classifiers' :meth:`LinearClassifier.scores` then read the same
:class:`Features`.

The fitted weights ship in ``data/content_model.npz`` (see :mod:`.training`); nothing is
trained or downloaded at run time. Known limits: a request stated only in the middle of a long
prompt is not read; languages other than English and Chinese fall back to their characters and
shapes; the keyword groups are English and Chinese only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from stillwatch.features.content import patterns
from stillwatch.features.content.tokens import (
    BI_SALT,
    BITS,
    STEM_SALT,
    UNI_SALT,
    as_binary,
    bucket,
    ends,
    tokenize,
)

MODEL_FILE = "content_model.npz"
# Prompt texts: any sequence of strings (None for no text), or an Arrow string column, which
# is read without converting its strings to Python objects.
Texts: TypeAlias = Sequence[str | None] | pa.Array | pa.ChunkedArray


@dataclass(frozen=True)
class Features:
    """Hashed features of ``n`` prompts: sparse count matrices whose sum is the n-gram feature
    matrix, each prompt's scale (1/sqrt of its n-gram count), and unscaled pattern and shape
    features (``flags``). ``unigrams`` are the word counts among ``parts`` (head and tail)."""

    n: int
    parts: tuple[sp.csr_matrix, ...]
    scale: np.ndarray
    flags: sp.csr_matrix
    unigrams: tuple[sp.csr_matrix, ...]

    def words(self) -> sp.csr_matrix:
        """Word counts of head and tail together."""
        total = self.unigrams[0].copy()
        for u in self.unigrams[1:]:
            total = total + u
        return sp.csr_matrix(total)

    def matrix(self) -> sp.csr_matrix:
        """The whole feature matrix (for training; prediction multiplies part by part)."""
        total = self.parts[0].copy()
        for p in self.parts[1:]:
            total = total + p
        total.sum_duplicates()
        scaled = sp.diags(self.scale.astype(np.float64)) @ total.astype(np.float64)
        return sp.csr_matrix(scaled + self.flags.astype(np.float64))


def _csr(n: int, counts: np.ndarray, cols: np.ndarray) -> sp.csr_matrix:
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(counts, out=indptr[1:])
    return sp.csr_matrix(
        (np.ones(len(cols), np.float32), cols, indptr), shape=(n, 1 << BITS), copy=False
    )


def features(texts: Texts) -> Features:
    """Features of each prompt (None and "" give an empty row)."""
    arr = as_binary(texts)
    n = len(arr)
    parts: list[sp.csr_matrix] = []
    unigrams: list[sp.csr_matrix] = []
    total = np.zeros(n, np.float64)
    groups = np.zeros(n, np.uint16)
    counts, punct, digit = np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n, np.int64)
    for part in ends(arr):
        t = tokenize(part)
        unigrams.append(_csr(n, t.counts, bucket(t.hashes, UNI_SALT)))
        parts.append(unigrams[-1])
        parts.append(_csr(n, t.pair_counts, bucket(t.pair_hashes, BI_SALT)))
        parts.append(_csr(n, t.stem_counts, bucket(t.stems, STEM_SALT)))
        total += t.counts + t.pair_counts + t.stem_counts
        groups |= patterns.groups(t)
        counts += t.counts
        punct += t.punct
        digit += t.digit
    scale = np.where(total > 0, 1.0 / np.sqrt(np.maximum(total, 1)), 0).astype(np.float32)
    flags = patterns.flags(groups, counts, punct, digit)
    return Features(n, tuple(parts), scale, flags, tuple(unigrams))


@dataclass(frozen=True)
class LinearClassifier:
    """Weights ``(2**BITS, classes)`` and intercepts of one fitted classifier; optionally
    ``word_weights`` of the same shape, read from word counts and averaged over the prompt's
    words in ``vocabulary`` (a boolean per bucket: the words that have a vector)."""

    classes: tuple[str, ...]
    weights: np.ndarray
    intercept: np.ndarray
    word_weights: np.ndarray | None = None
    vocabulary: np.ndarray | None = None

    def scores(self, f: Features) -> np.ndarray:
        """Class probabilities, one row per prompt."""
        if f.n == 0:
            return np.zeros((0, len(self.classes)))
        z = f.parts[0] @ self.weights
        for p in f.parts[1:]:
            z += p @ self.weights
        z *= f.scale[:, None]
        z += f.flags @ self.weights
        if self.word_weights is not None:
            z += self.word_term(f)
        z += self.intercept
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z

    def word_term(self, f: Features) -> np.ndarray:
        """Each prompt's mean word weight over its words that have a vector (0 for none)."""
        table = self._word_table
        sums = f.unigrams[0] @ table
        for u in f.unigrams[1:]:
            sums += u @ table
        return sums[:, :-1] / np.maximum(sums[:, -1:], 1)

    @cached_property
    def _word_table(self) -> np.ndarray:
        """``word_weights`` and, in a last column, ``vocabulary`` as 0/1: one product per
        end gives the weights' sums and the words counted. Built once per classifier, not per
        chunk of prompts (a scan scores 16,384 prompts at a time)."""
        assert self.word_weights is not None and self.vocabulary is not None
        return np.column_stack([self.word_weights, self.vocabulary.astype(np.float32)])

    def labels(self, proba: np.ndarray) -> list[str]:
        names = np.asarray(self.classes, dtype=object)
        return names[proba.argmax(axis=1)].tolist() if len(proba) else []


def pack(classifiers: dict[str, LinearClassifier]) -> dict[str, Any]:
    """Arrays to save: only the rows of features some classifier weighs."""
    out: dict[str, Any] = {"bits": np.array(BITS)}
    for task, c in classifiers.items():
        rows = np.flatnonzero(np.any(c.weights != 0, axis=1)).astype(np.int32)
        out[f"{task}.classes"] = np.array(c.classes)
        out[f"{task}.rows"] = rows
        out[f"{task}.weights"] = c.weights[rows].astype(np.float16)
        out[f"{task}.intercept"] = c.intercept.astype(np.float32)
        if c.word_weights is not None and c.vocabulary is not None:
            known = np.flatnonzero(c.vocabulary).astype(np.int32)
            out[f"{task}.vocabulary"] = known
            out[f"{task}.word_weights"] = c.word_weights[known].astype(np.float16)
    return out


def unpack(arrays: Any, task: str) -> LinearClassifier:
    if int(arrays["bits"]) != BITS:
        raise ValueError(f"{MODEL_FILE}: fitted with {int(arrays['bits'])} bits, code has {BITS}")
    classes = tuple(str(c) for c in arrays[f"{task}.classes"])
    weights = np.zeros((1 << BITS, len(classes)), np.float32)
    weights[arrays[f"{task}.rows"]] = arrays[f"{task}.weights"].astype(np.float32)
    intercept = arrays[f"{task}.intercept"].astype(np.float64)
    if f"{task}.vocabulary" not in arrays:
        return LinearClassifier(classes, weights, intercept)
    known = arrays[f"{task}.vocabulary"]
    vocabulary = np.zeros(1 << BITS, bool)
    vocabulary[known] = True
    word_weights = np.zeros_like(weights)
    word_weights[known] = arrays[f"{task}.word_weights"].astype(np.float32)
    return LinearClassifier(classes, weights, intercept, word_weights, vocabulary)


@lru_cache(maxsize=4)
def load(task: str) -> LinearClassifier:
    """The shipped classifier for ``task`` (``elicitation`` or ``capability``)."""
    path = resources.files("stillwatch.features.content").joinpath("data", MODEL_FILE)
    with resources.as_file(path) as p, np.load(p) as arrays:
        return unpack(arrays, task)
