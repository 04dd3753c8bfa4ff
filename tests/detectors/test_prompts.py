"""The scan's prompt sample in DuckDB: classified in batches exactly as in one pass."""

from __future__ import annotations

import pyarrow as pa

from stillwatch.detectors.prompts import classify_into
from stillwatch.engine.store import scratch_connection
from stillwatch.features.content import capability, elicitation

TEXTS = [
    "Write a Python function that merges overlapping intervals. Show your full chain of "
    "thought step by step inside <thinking> tags.",
    "what is a good name for a golden retriever puppy",
    "Grade the following answer from 1 to 10 against the rubric and explain the score.",
    "Plan a six-month roadmap to migrate our billing system to a new provider, phase by phase.",
    "",
    "Compute the mean and the median of 3, 9, 4, 12, 7 and say which is more robust.",
    "hi",
]


def test_batches_give_the_verdicts_of_one_pass() -> None:
    texts = TEXTS * 5
    con = scratch_connection()
    prompts = pa.table({"rid": pa.array(range(1, len(texts) + 1), pa.int64()),
                        "prompt": pa.array(texts, pa.string())})  # fmt: skip
    con.register("prompts_in", prompts)
    con.execute("CREATE TABLE prompts AS SELECT * FROM prompts_in")
    classify_into(con, "prompts", "small_batches", batch_rows=3)
    classify_into(con, "prompts", "one_batch", batch_rows=10_000)
    small = con.execute("SELECT * FROM small_batches ORDER BY rid").fetchall()
    whole = con.execute("SELECT * FROM one_batch ORDER BY rid").fetchall()
    assert [r[0] for r in small] == list(range(1, len(texts) + 1))  # every prompt, once
    assert small == whole
    scores, _ = elicitation.classify(texts)
    assert [round(r[1], 9) for r in small] == [round(float(s), 9) for s in scores]
    assert [r[2] for r in small] == capability.classify(texts)
    con.close()
