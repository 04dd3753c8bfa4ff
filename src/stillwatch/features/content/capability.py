"""Capability: what a prompt asks the model to do.

Classes: ``coding``, ``agentic-tool-use`` (tool schemas, ReAct turns, tool results, browser or
computer use), ``long-horizon-planning`` (roadmaps, phased plans, task decomposition),
``reasoning-math``, ``data-analysis``, ``writing-chat``, ``other`` (factual questions,
explanations, advice). English and Chinese. Campaigns target coding, agentic and
long-horizon work; a mix shifted to those classes is evidence, never proof: a coding-agent
fleet's traffic is coding and agentic too.

A linear model over hashed tokens and a few patterns (code, table and tool-call shapes) of
the prompt's ends (see :mod:`.textmodel`), fitted by :mod:`.training` on hand-written phrasings
and labelled corpus prompts, shipped as weights. Known confusions: a short follow-up turn
("now add a column", "continue") carries little of its task; code pasted for a data question
reads as coding; explanations of technical concepts sit between ``coding`` and ``other``.
A prompt of fewer than ``MIN_NGRAMS`` word n-grams ("hi", "ping", "test 123", "1+1") carries
no task to read a capability from and is ``other``: the model's intercepts alone would call it
coding, and a card-testing ring's pings would look like a coding harvest.
"""

from __future__ import annotations

import numpy as np

from stillwatch.features.content import textmodel
from stillwatch.features.content.textmodel import Features, LinearClassifier, Texts

LABELS = (
    "coding",
    "agentic-tool-use",
    "long-horizon-planning",
    "reasoning-math",
    "data-analysis",
    "writing-chat",
    "other",
)


def model() -> LinearClassifier:
    """The shipped classifier (loaded once)."""
    return textmodel.load("capability")


# Fewer n-grams than this (about three words) is too little text to read a task from.
MIN_NGRAMS = 6


def classify_features(f: Features) -> list[str]:
    """As :func:`classify`, on features already computed (shared with other classifiers)."""
    m = model()
    labels = m.labels(m.scores(f))
    if f.n:
        scale = f.scale.astype(np.float64)
        ngrams = np.divide(1.0, scale**2, out=np.zeros_like(scale), where=scale > 0)
        for i in np.flatnonzero(ngrams < MIN_NGRAMS - 0.5):
            labels[i] = "other"
    return labels


def classify(texts: Texts) -> list[str]:
    """One of ``LABELS`` per text."""
    return classify_features(textmodel.features(texts))
