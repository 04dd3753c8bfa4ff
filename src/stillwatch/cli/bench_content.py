"""``stillwatch bench content``: prompts per second of each content stage.

Prompts are real ShareGPT and HumanEval turns (from the corpus packages), repeated up to
``--prompts`` and spread over accounts; beside them, in the same run, DuckDB's bare pass over
the same column (``sum(length(prompt))`` per account) is the baseline. Each stage reports wall
time and the CPU time of this process (all its threads), and the run reports the machine's load
average: on a shared machine the wall rate falls with other work, the CPU rate does not.
"""

from __future__ import annotations

import os
import time
from typing import Annotated, Any

import numpy as np
import pyarrow as pa
import typer

from stillwatch.cli.app import bench_app
from stillwatch.cli.common import FormatOption
from stillwatch.cli.output import Format, console, emit_json, rows_table
from stillwatch.errors import UsageError

TARGET_RATE = 100_000


def _prompts(n: int, accounts: int) -> pa.Table:
    from stillwatch.sim.corpus import load

    corpus = load()
    pool = [t for c in corpus.conversations for t in c.turns] + list(corpus.coding_problems)
    texts = [pool[i % len(pool)] for i in range(n)]
    rng = np.random.default_rng(1)
    acc = rng.integers(0, accounts, size=n)
    return pa.table(
        {
            "event_id": pa.array([f"e{i}" for i in range(n)]),
            "account_id": pa.array([f"a{a}" for a in acc]),
            "prompt": pa.array(texts, pa.string()),
        }
    )


def run_bench(n: int, accounts: int, per_account: int) -> dict[str, Any]:
    """Each content stage as a scan runs it: skeletons of every prompt (the mask alone), then
    the sample (``per_account`` prompts per account), its skeletons, frames and MinHash over
    those, and both classifiers' verdicts (:func:`stillwatch.detectors.prompts.classify_into`,
    on DuckDB's threads)."""
    from stillwatch.detectors.prompts import classify_into
    from stillwatch.engine.store import scratch_connection
    from stillwatch.features.content.frames import mine_frames_skeletons, skeleton_table
    from stillwatch.features.content.minhash import signatures_from_skeletons
    from stillwatch.features.content.sampling import sample_select
    from stillwatch.features.content.skeleton import skeleton_select

    table = _prompts(n, accounts)
    con = scratch_connection()
    con.register("bench_prompts", table)
    con.execute("CREATE TABLE prompts AS SELECT * FROM bench_prompts")
    stages: list[dict[str, Any]] = []

    def timed(name: str, processed: int, fn: Any) -> None:
        t, cpu = time.perf_counter(), time.process_time()
        fn()
        seconds = time.perf_counter() - t
        cpu_seconds = max(time.process_time() - cpu, 1e-9)
        stages.append(
            {
                "stage": name,
                "prompts": processed,
                "seconds": seconds,
                "rate": processed / seconds,
                "cpu_seconds": cpu_seconds,
                "cpu_rate": processed / cpu_seconds,
            }
        )

    timed(
        "duckdb bare pass",
        n,
        lambda: con.sql(
            "SELECT account_id, sum(length(prompt)) FROM prompts GROUP BY 1"
        ).fetchall(),
    )
    timed(
        "skeleton (every prompt)",
        n,
        lambda: con.sql(
            f"SELECT count(skeleton) FROM ({skeleton_select('prompts', 'prompt')})"
        ).fetchall(),
    )
    # a bounded sample per account, numbered account by account as the scan's is
    # (detectors.prompts.sample_table)
    sampled = sample_select("prompts", per_account, "account_id, event_id, prompt")
    timed(
        "sample",
        n,
        lambda: con.execute(
            f"CREATE TEMP TABLE sample AS SELECT *, row_number() OVER "
            f"(ORDER BY account_id, event_id) AS rid FROM ({sampled})"
        ),
    )
    size = int(con.execute("SELECT count(*) FROM sample").fetchall()[0][0])
    timed(
        "skeletons (sample)",
        size,
        lambda: skeleton_table(con, "sample", "skeletons", rid="rid", text=False),
    )
    timed("frames (sample)", size, lambda: mine_frames_skeletons(con, "skeletons", texts="sample"))
    timed("minhash (sample)", size, lambda: signatures_from_skeletons(con, "skeletons"))
    # one untimed pass first: the first call pays the page faults of its large arrays once,
    # as the first batch of a long scan does
    classify_into(con, "(SELECT * FROM sample WHERE rid <= 20000)", "warm")
    timed("classifier verdicts (sample)", size, lambda: classify_into(con, "sample", "verdicts"))
    con.close()
    return {
        "load_average": list(os.getloadavg()),
        "cpus": os.cpu_count(),
        "prompts": n,
        "accounts": accounts,
        "per_account": per_account,
        "stages": stages,
        "target_rate": TARGET_RATE,
    }


@bench_app.command("content")
def bench_content_command(
    prompts: Annotated[int, typer.Option(help="prompts to process")] = 200_000,
    accounts: Annotated[int, typer.Option(help="accounts they are spread over")] = 5_000,
    per_account: Annotated[
        int, typer.Option(help="sample per account for MinHash and classifiers")
    ] = 20,
    fmt: FormatOption = Format.table,
) -> None:
    """Prompts per second of each content stage: skeletons, the sample, frames, MinHash and
    the classifiers."""
    if prompts < 1 or accounts < 1 or per_account < 1:
        raise UsageError("--prompts, --accounts and --per-account must be positive")
    result = run_bench(prompts, accounts, per_account)
    if fmt == Format.json:
        emit_json(result)
        return
    base = result["stages"][0]["seconds"]
    rows = [
        {
            "stage": s["stage"],
            "prompts": f"{s['prompts']:,}",
            "seconds": f"{s['seconds']:.2f}",
            "prompts/s": f"{s['rate']:,.0f}",
            "CPU s": f"{s['cpu_seconds']:.2f}",
            "prompts/CPU-s": f"{s['cpu_rate']:,.0f}",
            "x bare pass": f"{s['seconds'] / base:.1f}",
        }
        for s in result["stages"]
    ]
    console.print(rows_table("bench content", rows))
    content = result["stages"][1:]
    total = sum(s["seconds"] for s in content)
    load = ", ".join(f"{x:.2f}" for x in result["load_average"])
    console.print(
        f"slowest stage {min(s['rate'] for s in content):,.0f} prompts/s; target {TARGET_RATE:,}/s per stage"
        f" ({total:.1f} s for all content stages); load average {load} on {result['cpus']} CPUs"
    )
