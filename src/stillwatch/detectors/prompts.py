"""The scan's prompt sample, kept in DuckDB: what the content detectors read, computed once.

A scan of a large store samples tens of millions of prompts; held in Python they would not
fit in memory. So the sample, its skeletons and each prompt's classifier verdicts are temp
tables on the scan's own DuckDB connection (the store's memory limit and spill directory;
dropped when the connection closes, never written to the store), and the content detectors
aggregate them per account in SQL. Only per-account results come back to Python.

- :func:`sample_table`: up to ``per_account`` prompts per account, the first by event id
  (deterministic), with ``rid``, a row key;
- :func:`skeleton_table`: the sample with each prompt's skeleton (frames and MinHash);
- :func:`classified_table`: each sampled prompt's elicitation score and capability, computed
  in batches of ``BATCH_ROWS`` prompts, so memory does not grow with the data.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import ibis
import numpy as np
import pyarrow as pa

from stillwatch.detectors.base import ScanContext, connection, temp_table
from stillwatch.engine.store import query_arrow

BATCH_ROWS = 100_000
# Prompts featurised at once by one thread.
CHUNK_ROWS = 16_384


# ``ctx.shared[TIMES]``: seconds spent building each shared table (``sample``, ``skeletons``,
# ``verdicts``), whichever detector asked for it first: the scan reports them apart.
TIMES = "prompt_table_seconds"


def _took(ctx: ScanContext, table: str, start: float) -> None:
    times = ctx.shared.setdefault(TIMES, {})
    times[table] = times.get(table, 0.0) + time.perf_counter() - start


def table_seconds(ctx: ScanContext) -> dict[str, float]:
    """Seconds spent so far building each shared prompt table (a copy)."""
    return dict(ctx.shared.get(TIMES, {}))


def sample_table(ctx: ScanContext, per_account: int) -> str:
    """Temp table ``account_id``, ``event_id``, ``prompt``, ``rid``: up to ``per_account``
    prompts (not NULL) per account, the first by event id. ``rid`` numbers the rows by account
    and event id, and the table is stored in that order (its readers take ranges of ``rid``).
    Made once per scan.

    Most accounts send fewer prompts than ``per_account`` and keep them all: only the rest are
    ranked (a window over a few accounts' ids, not over every exchange), and the ids are
    numbered before the text is fetched, so only the kept prompts are sorted with their text."""
    key = ("sample_table", per_account)
    if key not in ctx.shared:
        start = time.perf_counter()
        ex = ctx.sources.exchanges
        ex = ex.filter(ex.prompt.notnull())
        counts = ex.group_by("account_id").aggregate(n=ex.count())
        crowded = counts.filter(counts.n > per_account).select("account_id")
        few = ex.anti_join(crowded, "account_id").select("account_id", "event_id")
        many = ex.semi_join(crowded, "account_id")
        w = ibis.window(group_by=many.account_id, order_by=many.event_id)
        ranked = many.select("account_id", "event_id", rank=ibis.row_number().over(w))
        kept = few.union(ranked.filter(ranked["rank"] < per_account).drop("rank"))
        rid = ibis.row_number().over(order_by=["account_id", "event_id"]) + 1
        ids = kept.mutate(rid=rid).select("event_id", "rid")
        sample = ex.join(ids, "event_id").select("account_id", "event_id", "prompt", "rid")
        name = f"_sw_sample_{int(per_account)}"
        temp_table(ctx, name, sample.order_by("rid"))
        ctx.shared[key] = name
        _took(ctx, "sample", start)
    table: str = ctx.shared[key]
    return table


def sample_counts(ctx: ScanContext, per_account: int) -> dict[str, int]:
    """Prompts sampled per account."""
    key = ("sample_counts", per_account)
    if key not in ctx.shared:
        rows = (
            connection(ctx)
            .execute(
                f"SELECT account_id, count(*) FROM {sample_table(ctx, per_account)} GROUP BY ALL"
            )
            .fetchall()
        )
        ctx.shared[key] = {str(a): int(n) for a, n in rows}
    counts: dict[str, int] = ctx.shared[key]
    return counts


def skeleton_table(ctx: ScanContext, per_account: int) -> str:
    """Temp table of the sample's non-empty prompts: ``account_id``, ``rid`` (the sample's),
    ``ph`` (prompt hash) and ``skeleton`` (:func:`stillwatch.features.content.frames.
    skeleton_table`), without the text itself."""
    key = ("skeleton_table", per_account)
    if key not in ctx.shared:
        from stillwatch.features.content.frames import skeleton_table as make

        sample = sample_table(ctx, per_account)
        name = f"_sw_skeletons_{int(per_account)}"
        start = time.perf_counter()
        # the sample's rid is kept (not renumbered): one key for a prompt across the tables;
        # without the prompt text (the sample holds it, by the same rid): a large store's
        # sample is tens of gigabytes of text, and DuckDB spills temp tables to disk
        make(connection(ctx), sample, name, rid="rid", text=False)
        ctx.shared[key] = name
        _took(ctx, "skeletons", start)
    table: str = ctx.shared[key]
    return table


def classified_table(ctx: ScanContext, per_account: int) -> str:
    """Temp table ``rid``, ``elicitation`` and ``capability`` (:func:`classify_into`) for
    every sampled prompt."""
    key = ("classified_table", per_account)
    if key not in ctx.shared:
        name = f"_sw_classified_{int(per_account)}"
        sample = sample_table(ctx, per_account)
        start = time.perf_counter()
        classify_into(connection(ctx), sample, name)
        ctx.shared[key] = name
        _took(ctx, "verdicts", start)
    table: str = ctx.shared[key]
    return table


def classify_into(con: Any, source: str, name: str, batch_rows: int = BATCH_ROWS) -> None:
    """Create temp table ``name``: ``rid``, ``elicitation`` (probability of an elicitation
    prompt) and ``capability`` (label) for each row of ``source`` (columns ``rid``, numbered
    from 1 without gaps, and ``prompt``), classified ``batch_rows`` at a time with one
    featurising pass for both classifiers: memory stays flat however many prompts there are.
    Each batch is featurised ``CHUNK_ROWS`` prompts at a time on as many threads as DuckDB
    uses (NumPy's array work runs outside the GIL; small chunks also stay in the CPU's
    caches)."""
    from stillwatch.features.content import capability, elicitation

    # loaded once, before the threads ask for them
    elicitation.model()
    capability.model()
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {name} (rid BIGINT, elicitation DOUBLE, capability VARCHAR)"
    )
    total = int(con.execute(f"SELECT coalesce(max(rid), 0) FROM {source}").fetchall()[0][0])
    threads = max(1, int(con.execute("SELECT current_setting('threads')").fetchall()[0][0]))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for lo in range(1, total + 1, batch_rows):
            batch = con.sql(
                f"SELECT rid, prompt FROM {source} WHERE rid >= {lo} AND rid < {lo + batch_rows} "
                "ORDER BY rid"
            ).to_arrow_table()
            prompts = batch.column("prompt").combine_chunks()
            chunks = [prompts[i : i + CHUNK_ROWS] for i in range(0, len(prompts), CHUNK_ROWS)]
            parts = list(pool.map(_verdicts, chunks))
            verdicts = pa.table(
                {
                    "rid": batch.column("rid"),
                    "elicitation": pa.array(
                        np.concatenate([p[0] for p in parts]) if parts else [], pa.float64()
                    ),
                    "capability": pa.array([c for p in parts for c in p[1]], pa.string()),
                }
            )
            query_arrow(
                con, verdicts, "_sw_verdicts", f"INSERT INTO {name} SELECT * FROM _sw_verdicts"
            )


def _verdicts(prompts: pa.Array) -> tuple[np.ndarray, list[str]]:
    """Elicitation scores and capability labels of ``prompts``, one featurising pass."""
    from stillwatch.features.content import capability, elicitation, textmodel

    f = textmodel.features(prompts)
    scores, _ = elicitation.classify_features(f)
    return np.asarray(scores, dtype=np.float64), capability.classify_features(f)


# The sampled prompts' verdicts by event id (``event_id``, ``elicitation``, ``capability``),
# kept from the signals stage for the campaign stage: ``campaigns.usage`` samples prompts by
# conversation, most of them the same prompts, and reads their verdicts here instead of
# classifying them again. A temp table; dropped after the campaign stage (``drop_verdicts``).
VERDICTS = "_sw_verdicts_by_event"


def keep_verdicts(ctx: ScanContext) -> None:
    """Keep each classified sampled prompt's verdicts by event id in ``VERDICTS``."""
    con = connection(ctx)
    for key, name in list(ctx.shared.items()):
        if isinstance(key, tuple) and key[0] == "classified_table":
            sample = sample_table(ctx, key[1])
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {VERDICTS} AS SELECT s.event_id, c.elicitation, "
                f"c.capability FROM {sample} s JOIN {name} c USING (rid)"
            )
            return


# Which recurring frames each account's sampled prompts hold: ``account_id``, ``kind``,
# ``frame`` (the masked words, as frame mining keys them); common frames too (never a link,
# but a campaign larger than ``common_share`` of the accounts makes its own frames common).
# Kept by ``content.shared-frames`` for the size stage, which marks the member
# conversations holding their campaign's own frames (``campaigns.size``); dropped with the
# verdicts. Left by frame mining itself (``frames.mine_frames_skeletons(holders=...)``): the
# common frames' holders are many, and never pass through Python.
FRAME_HOLDERS = "_sw_frame_holders"


def is_kept(con: Any, name: str) -> bool:
    """Whether the signals stage left temp table ``name`` (``VERDICTS``, ``FRAME_HOLDERS``) on
    this connection."""
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND temporary", [name]
        ).fetchall()[0][0]
    )


def drop_verdicts(con: Any) -> None:
    """Drop what the signals stage kept for the campaign stage (verdicts, frame holders)."""
    con.execute(f"DROP TABLE IF EXISTS {VERDICTS}")
    con.execute(f"DROP TABLE IF EXISTS {FRAME_HOLDERS}")


def release(ctx: ScanContext) -> None:
    """Drop this scan's prompt tables (after the signals stage: they can be large), keeping
    the verdicts by event id (:func:`keep_verdicts`)."""
    keep_verdicts(ctx)
    for key, name in list(ctx.shared.items()):
        if isinstance(key, tuple) and key[0].endswith("_table"):
            connection(ctx).execute(f"DROP TABLE IF EXISTS {name}")
            del ctx.shared[key]
