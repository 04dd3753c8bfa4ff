"""The shared featuriser of the content classifiers and the shipped model.

Vectorising a whole column at once must give each prompt exactly the features it gets alone
(nothing leaks across prompt boundaries, whatever the bytes); the shipped weights must belong
to today's features; training data never touches the frozen evaluation set's records.
"""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from stillwatch.features.content import capability, elicitation, patterns, textmodel, training

PIECES = [
    *"abcXYZ019 _-./:@'\"`\n\t,;()<>{}",
    "评分",
    "推理过程",
    "é",
    "ü",
    "完整的",
    "reasoning",
    "Analysis",
    "score",
    "answer:",
    "Question:",
    "step by step",
    "```",
    "\u3000",
]
texts = st.lists(st.sampled_from(PIECES), max_size=160).map("".join)


def _rows(f: textmodel.Features) -> list[dict[int, float]]:
    m = f.matrix().tocsr()
    out = []
    for i in range(m.shape[0]):
        row = m.getrow(i)
        out.append(
            {int(c): round(float(v), 5) for c, v in zip(row.indices, row.data, strict=True) if v}
        )
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(texts, st.none()), min_size=1, max_size=12))
def test_a_batch_gives_each_prompt_its_own_features(batch: list[str | None]) -> None:
    together = _rows(textmodel.features(batch))
    alone = [_rows(textmodel.features([t]))[0] for t in batch]
    assert together == alone


def test_empty_and_missing_prompts() -> None:
    f = textmodel.features([None, ""])
    assert f.matrix().nnz == len(patterns._SHAPES) * 2 + 0  # shape bins only
    score, labels = elicitation.classify([])
    assert len(score) == 0 and labels == []
    assert capability.classify([]) == []


def test_shared_features_give_the_same_labels() -> None:
    batch = [
        "Rate the answer from 1 to 10.\nQuestion: why is the sky blue?\nAnswer: scattering",
        "Write a Python function that reverses a linked list.",
        "请把你完整的推理过程写出来：一个数加5等于12，这个数是多少？",
        None,
    ]
    f = textmodel.features(batch)
    assert elicitation.classify_features(f)[1] == elicitation.label(batch)
    assert capability.classify_features(f) == capability.classify(batch)
    score = elicitation.score(batch)
    assert ((score >= 0) & (score <= 1)).all()


def test_the_shipped_model_fits_todays_features() -> None:
    """A change to the features without refitting the weights fails here: the shipped model
    must still reproduce the hand-written training examples it was fitted on."""
    hand = training.compose(
        resources.files("stillwatch.features.content")
        .joinpath("data", "hand_train.yaml")
        .read_text("utf-8"),
        training.FILLS,
    )
    for task, module in (("elicitation", elicitation), ("capability", capability)):
        texts, labels = zip(*hand[task], strict=True)
        model = module.model()
        predicted = model.labels(model.scores(textmodel.features(list(texts))))
        accuracy = float(np.mean(np.asarray(predicted) == np.asarray(labels)))
        assert accuracy > 0.95, f"{task}: shipped model reproduces {accuracy:.2f} of its training"
        assert set(model.classes) == set(module.LABELS)


def test_training_never_uses_a_frozen_record_and_dev_is_apart() -> None:
    frozen = training.frozen_records()
    assert frozen, "the frozen set references corpus records"
    path = resources.files("stillwatch.features.content").joinpath("data", "corpus_labels.jsonl")
    refs = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]
    assert not {(r["package"], str(r["record"])) for r in refs} & frozen
    keys = [(r["package"], r["record"], r.get("turn", 0)) for r in refs]
    assert len(keys) == len(set(keys))
    files = resources.files("stillwatch.features.content").joinpath("data")
    train = training.compose(files.joinpath("hand_train.yaml").read_text("utf-8"), 2)
    dev = training.compose(files.joinpath("hand_dev.yaml").read_text("utf-8"), 2)
    for task in training.TASKS:
        assert not {t for t, _ in train[task]} & {t for t, _ in dev[task]}


def test_a_refit_of_one_task_keeps_the_other_classifier_as_shipped(tmp_path, monkeypatch) -> None:
    # `training --task capability` refits capability alone; elicitation must score exactly as
    # the shipped file's, packed again beside the new capability weights.
    refits = []

    def fake_fit(examples, c, vectors=0.0):
        refits.append(c)
        return textmodel.load("capability")

    monkeypatch.setattr(training, "fit", fake_fit)
    monkeypatch.setattr(training, "training_set", lambda: {t: [] for t in training.TASKS})
    monkeypatch.setattr(training, "dev_set", lambda: {t: [("x", "none")] for t in training.TASKS})
    monkeypatch.setattr(training, "macro_f1", lambda m, ex: 0.0)
    monkeypatch.setattr(training, "per_class", lambda m, ex: {})
    out = tmp_path / "model.npz"
    training.main(["--task", "capability", "--out", str(out)])
    assert refits == [training.C["capability"]]
    prompts = ["Grade each answer from 1 to 10 against the rubric.", "Show every step.", "hi"]
    f = textmodel.features(prompts)
    with np.load(out) as arrays:
        for task in training.TASKS:
            np.testing.assert_array_equal(
                textmodel.unpack(arrays, task).scores(f), textmodel.load(task).scores(f)
            )


def test_a_prompt_too_short_to_hold_a_task_has_no_capability() -> None:
    # A card-testing ring's pings must not read as a coding harvest; a short real task still
    # gets its class.
    pings = ["hi", "ping", "test 123", "1+1", ".", "", "ok"]
    assert set(capability.classify(pings)) == {"other"}
    assert capability.classify(["write a python function that sorts a list of tuples"]) == [
        "coding"
    ]
