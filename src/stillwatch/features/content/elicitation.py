"""Elicitation: prompts written to harvest reasoning or judgements rather than to get help.

Labels: ``cot`` (asks for the model's complete chain of thought, every step, thinking tags),
``reasoning-trace`` (gives a finished answer and asks for the reasoning behind it: "imagine
and articulate the reasoning behind a completed response"), ``grader`` (the model as judge or
reward model: score, rank or compare responses against a rubric), ``none``. English and
Chinese. The score is the probability that a prompt is any of the three.

A linear model over hashed tokens and a few hand-made patterns (full reasoning requested,
thinking tags, back-filled rationale, judge and rubric wording, question/answer pairs) of the
prompt's ends (see :mod:`.textmodel`); fitted by :mod:`.training` on hand-written phrasings and
labelled corpus prompts, shipped as weights. Known false positives: legitimate evaluation and
grading work (a teacher grading with a rubric, an eval harness's judge prompts) is ``grader``
too — the label says what the prompt does, not who sent it. The bare "think step by step" of
evaluation harnesses, step-by-step how-to guides and help writing a rubric are ``none`` by
design; a long prompt whose request sits in its middle is read only at its ends.
"""

from __future__ import annotations

import numpy as np

from stillwatch.features.content import textmodel
from stillwatch.features.content.textmodel import Features, LinearClassifier, Texts

LABELS = ("cot", "reasoning-trace", "grader", "none")


def model() -> LinearClassifier:
    """The shipped classifier (loaded once)."""
    return textmodel.load("elicitation")


def classify_features(f: Features) -> tuple[np.ndarray, list[str]]:
    """As :func:`classify`, on features already computed (shared with other classifiers)."""
    m = model()
    p = m.scores(f)
    if len(p) == 0:
        return np.zeros(0), []
    return 1.0 - p[:, m.classes.index("none")], m.labels(p)


def classify(texts: Texts) -> tuple[np.ndarray, list[str]]:
    """Score in [0, 1] (probability of any elicitation) and a label per text."""
    return classify_features(textmodel.features(texts))


def score(texts: Texts) -> np.ndarray:
    """Probability in [0, 1] that each text is an elicitation prompt."""
    return classify(texts)[0]


def label(texts: Texts) -> list[str]:
    """``cot``, ``reasoning-trace``, ``grader`` or ``none`` per text."""
    return classify(texts)[1]
