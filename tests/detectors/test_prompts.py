"""The scan's prompt sample in DuckDB: classified in batches (and chunks on threads) exactly as
in one pass; the tables the content detectors share, timed apart."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from stillwatch.detectors.prompts import classify_into
from stillwatch.engine.store import open_store, scratch_connection
from stillwatch.features.content import capability, elicitation
from tests.detectors.conftest import ingest_folder
from tests.planted import Planted

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


def test_threads_featurising_chunks_give_the_verdicts_of_one_pass(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import stillwatch.detectors.prompts as prompts

    texts = TEXTS * 7
    con = scratch_connection(threads=2)
    rows = pa.table({"rid": pa.array(range(1, len(texts) + 1), pa.int64()),
                     "prompt": pa.array(texts, pa.string())})  # fmt: skip
    con.register("prompts_in", rows)
    con.execute("CREATE TABLE prompts AS SELECT * FROM prompts_in")
    classify_into(con, "prompts", "whole")
    monkeypatch.setattr(prompts, "CHUNK_ROWS", 4)  # 13 chunks over two threads
    classify_into(con, "prompts", "chunked")
    whole = con.execute("SELECT * FROM whole ORDER BY rid").fetchall()
    chunked = con.execute("SELECT * FROM chunked ORDER BY rid").fetchall()
    assert len(chunked) == len(texts) and chunked == whole
    con.close()


def test_a_scan_charges_each_shared_prompt_table_once(
    planted_data: Planted, tmp_path: Path
) -> None:
    from stillwatch.bench.perf import content_stages
    from stillwatch.detectors.registry import detectors
    from stillwatch.pipeline import scan

    content = [d.id for d in detectors() if d.id.startswith("content.")]
    with open_store(tmp_path / "s.duckdb") as store:
        ingest_folder(store, planted_data.write(tmp_path / "data"))
        ran = scan(store, {"flag_threshold": 0.5}, only=content).detectors
    built = [(d, t, s) for d, v in ran.items() for t, s in v.get("built_tables", {}).items()]
    # each built once, by the first detector that asked for it, within its own seconds
    assert sorted(t for _, t, _ in built) == ["sample", "skeletons", "verdicts"]
    assert all(0 < s <= ran[d]["seconds"] for d, _, s in built)
    stages = content_stages(ran, prompts=1000)
    assert [s["stage"] for s in stages][:3] == [f"prompt table: {t}" for _, t, _ in built]
    total = sum(v["seconds"] for d, v in ran.items() if d in content)
    assert abs(sum(s["seconds"] for s in stages) - total) < 0.01
    assert all(s["prompts_per_second"] == 1000 / s["seconds"] for s in stages if s["seconds"])
