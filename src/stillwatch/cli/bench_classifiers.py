"""``stillwatch bench classifiers``: per-class precision, recall and F1 of the content
classifiers (elicitation, capability) on the frozen evaluation set."""

from __future__ import annotations

from typing import Any

from stillwatch.bench.classifier_eval import evaluate
from stillwatch.cli.app import bench_app
from stillwatch.cli.common import FormatOption
from stillwatch.cli.output import Format, console, emit_json, rows_table

TARGET_F1 = 0.9


@bench_app.command("classifiers")
def bench_classifiers_command(fmt: FormatOption = Format.table) -> None:
    """Score the elicitation and capability classifiers on the frozen evaluation set."""
    result = evaluate()
    if fmt == Format.json:
        emit_json(result)
        return
    for task, found in result.items():
        rows: list[dict[str, Any]] = [
            {
                "class": c["class"],
                "precision": f"{c['precision']:.2f}",
                "recall": f"{c['recall']:.2f}",
                "F1": f"{c['f1']:.2f}",
                "items": c["support"],
            }
            for c in found["classes"]
        ]
        console.print(rows_table(f"{task} (frozen set)", rows))
        macro = found["classes"][-1]["f1"]
        console.print(
            f"{task}: macro F1 {macro:.2f} {'meets' if macro >= TARGET_F1 else 'MISSES'} "
            f"the {TARGET_F1} target; {len(found['errors'])} items wrong"
        )
