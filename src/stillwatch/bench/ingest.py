"""``stillwatch bench ingest``: stillwatch's ingest beside DuckDB's bare copy of the same file.

Each measurement runs in a fresh subprocess, so its peak memory (max RSS) is its own. The
baseline is ``CREATE TABLE t AS SELECT * FROM read_…(file)`` into a fresh DuckDB file: the
fastest a load can go with no validation, no deduplication and no bookkeeping.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb

_WORDS = [
    "explain",
    "write",
    "function",
    "refactor",
    "the",
    "code",
    "test",
    "python",
    "rust",
    "sql",
    "query",
    "plan",
    "agent",
    "tool",
    "call",
    "reason",
    "step",
    "carefully",
    "error",
    "stack",
    "trace",
    "optimize",
    "memory",
    "latency",
    "data",
    "table",
    "summarize",
    "report",
    "translate",
    "中文",
    "翻译",
    "数据",
    "模型",
    "user",
    "request",
    "answer",
    "proof",
    "lemma",
    "graph",
    "search",
    "json",
    "schema",
    "api",
]


def write_sample(
    out: Path, rows: int, formats: tuple[str, ...] = ("parquet", "jsonl"), seed: int = 7
) -> dict[str, Path]:
    """Write ``rows`` synthetic exchanges in each format (about 0.1% bad rows)."""
    out.mkdir(parents=True, exist_ok=True)
    words = "[" + ", ".join("'" + w + "'" for w in _WORDS) + "]"
    n_words = len(_WORDS)
    con = duckdb.connect()
    con.execute(f"SET threads = 2; SELECT setseed({1 / (seed + 1)})")
    query = f"""
    SELECT
      md5(CAST(i * 7919 + {seed} AS VARCHAR)) AS event_id,
      TIMESTAMPTZ '2026-04-22 00:00:00+00' + to_milliseconds(i * 9) AS ts,
      'acct_' || CAST(hash(i // 40, {seed}) % 250000 AS VARCHAR) AS account_id,
      'key_' || CAST(hash(i // 40, {seed} + 1) % 400000 AS VARCHAR) AS api_key_id,
      CAST(NULL AS VARCHAR) AS end_user_id,
      'conv_' || CAST(i // 4 AS VARCHAR) AS conversation_id,
      CAST(i % 4 AS BIGINT) AS turn_index,
      CASE WHEN i % 1000 = 999 THEN '300.1.2.3'
           ELSE CAST(hash(i // 40) % 223 + 1 AS VARCHAR) || '.' || CAST(hash(i, 1) % 256 AS VARCHAR)
                || '.' || CAST(hash(i, 2) % 256 AS VARCHAR) || '.' || CAST(hash(i, 3) % 256 AS VARCHAR)
      END AS ip,
      CAST(NULL AS VARCHAR) AS ip_hash,
      CAST(hash(i // 40) % 60000 AS BIGINT) AS asn,
      ['US', 'DE', 'CN', 'IN', 'BR', 'SG'][CAST(hash(i // 40) % 6 AS INT) + 1] AS ip_country,
      ['anthropic-python/0.49.0', 'openai-python/1.82.0', 'OpenAI/NodeJS/4.98.0'][CAST(hash(i // 40, 5) % 3 AS INT) + 1] AS user_agent,
      'ja4_' || CAST(hash(i // 40, 6) % 50 AS VARCHAR) AS tls_fingerprint,
      ['frontier-1', 'frontier-1-mini', 'frontier-2'][CAST(hash(i, 7) % 3 AS INT) + 1] AS model,
      'messages' AS endpoint,
      CASE WHEN i % 3 = 0 THEN 'You are a helpful coding assistant.' END AS system_prompt,
      array_to_string(list_transform(range(40 + CAST(hash(i, 8) % 30 AS INT)),
        lambda k: {words}[CAST(hash(i, k) % {n_words} AS INT) + 1]), ' ') AS prompt,
      CAST(NULL AS VARCHAR) AS prompt_sha256,
      CAST(NULL AS VARCHAR) AS response,
      CAST(hash(i, 9) % 4000 + 20 AS BIGINT) AS input_tokens,
      CAST(hash(i, 10) % 2000 + 10 AS BIGINT) AS output_tokens,
      CAST(hash(i, 11) % 500 AS BIGINT) AS reasoning_tokens,
      CAST([1024, 4096, 8192][CAST(hash(i, 12) % 3 AS INT) + 1] AS BIGINT) AS max_tokens,
      CAST(hash(i, 13) % 11 AS DOUBLE) / 10 AS temperature,
      CAST(hash(i, 14) % 4 AS BIGINT) AS tools_count,
      hash(i, 15) % 5 = 0 AS thinking,
      'ok' AS status,
      CAST(hash(i, 16) % 30000 + 200 AS BIGINT) AS latency_ms
    FROM range({rows}) t(i)
    """
    con.execute(f"CREATE TABLE sample AS {query}")
    # duplicates: about 0.05% of exchanges logged twice, at the end of the file
    con.execute("INSERT INTO sample SELECT * FROM sample USING SAMPLE 0.05 PERCENT (bernoulli, 7)")
    options = {"parquet": "FORMAT parquet, ROW_GROUP_SIZE 122880", "jsonl": "FORMAT json"}
    paths = {fmt: out / f"exchanges.{fmt}" for fmt in formats}
    for fmt, path in paths.items():
        con.execute(f"COPY sample TO '{path}' ({options[fmt]})")
    con.close()
    return paths


def prefill_store(path: Path, rows: int, memory_limit: str = "1GB", seed: int = 99) -> None:
    """A store holding ``rows`` exchanges (ids that never equal the sample's), written by SQL
    in 5M-row steps: what a store looks like after weeks of ingest, made in minutes. The
    prompts are short: the duplicate check reads only ids."""
    from stillwatch.engine.store import open_store

    step = 5_000_000
    with open_store(path, memory_limit=memory_limit) as store:
        ingest_id = int(store.scalar("SELECT nextval('ingest_id_seq')"))
        for start in range(0, rows, step):
            end = min(rows, start + step)
            store.con.execute(
                f"""INSERT INTO exchanges BY NAME SELECT
                  md5(CAST(i * 7919 + {seed} AS VARCHAR)) AS event_id,
                  TIMESTAMP '2026-03-01 00:00:00' + to_milliseconds(i * 50) AS ts,
                  'acct_' || CAST(hash(i // 40, {seed}) % 250000 AS VARCHAR) AS account_id,
                  'key_' || CAST(hash(i // 40, {seed} + 1) % 400000 AS VARCHAR) AS api_key_id,
                  'conv_' || CAST(i // 4 AS VARCHAR) AS conversation_id,
                  CAST(i % 4 AS BIGINT) AS turn_index,
                  '10.' || CAST(hash(i, 1) % 256 AS VARCHAR) || '.'
                    || CAST(hash(i, 2) % 256 AS VARCHAR) || '.1' AS ip,
                  CAST(hash(i // 40) % 60000 AS BIGINT) AS asn,
                  'frontier-1' AS model, 'messages' AS endpoint,
                  'prompt ' || CAST(i AS VARCHAR) AS prompt,
                  CAST(hash(i, 9) % 4000 + 20 AS BIGINT) AS input_tokens,
                  CAST(hash(i, 10) % 2000 + 10 AS BIGINT) AS output_tokens,
                  'ok' AS status, {ingest_id} AS _ingest_id
                FROM range({start}, {end}) t(i)"""
            )
            store.con.execute("CHECKPOINT")
        store.con.execute(
            """INSERT INTO ingest_runs BY NAME SELECT ? AS ingest_id, 'bench-prefill' AS run_id,
                   'exchanges' AS table_name, 'bench prefill' AS file, 'sql' AS format,
                   ? AS rows_read, ? AS accepted, 0 AS duplicates, 0 AS conflicts,
                   0 AS quarantined, 0 AS replaced, 0 AS truncated""",
            [ingest_id, rows, rows],
        )


def _measure(code: str) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter; it prints JSON. Adds that process's peak memory.

    Peak memory is VmHWM, which starts afresh at exec (ru_maxrss would carry the parent's).
    """
    wrapper = (
        "import json, time\n"
        "t0 = time.perf_counter()\n"
        f"{code}\n"
        "seconds = time.perf_counter() - t0\n"
        "peak = next(int(l.split()[1]) * 1024 for l in open('/proc/self/status')\n"
        "            if l.startswith('VmHWM'))\n"
        "print(json.dumps({'seconds': seconds, 'peak_bytes': peak, **result}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", wrapper], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"measurement failed: {done.stderr.strip().splitlines()[-1:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def measure_stillwatch(
    path: Path, store: Path, batch_rows: int, memory_limit: str, source: str = "auto"
) -> dict[str, Any]:
    code = f"""
from pathlib import Path
from stillwatch.engine.store import open_store
from stillwatch.ingest import discover, ingest
sources, _ = discover([{str(path)!r}], source={source!r})
with open_store(Path({str(store)!r}), memory_limit={memory_limit!r}) as s:
    run = ingest(s, sources, batch_rows={batch_rows}, max_text_bytes=1048576)
    rows = s.scalar('SELECT count(*) FROM exchanges WHERE _ingest_id = '
                    '(SELECT max(ingest_id) FROM ingest_runs)')
assert not run.errors, run.errors
result = {{'rows_read': run.total('rows_read'), 'accepted': run.total('accepted'),
          'quarantined': run.total('quarantined'), 'duplicates': run.total('duplicates'),
          'stored': rows}}
"""
    return _measure(code)


def measure_copy(path: Path, store: Path, fmt: str) -> dict[str, Any]:
    reader = "read_parquet" if fmt == "parquet" else "read_json"
    code = f"""
import duckdb
con = duckdb.connect({str(store)!r})
con.execute("CREATE TABLE t AS SELECT * FROM {reader}('{path}')")
result = {{'stored': con.execute('SELECT count(*) FROM t').fetchall()[0][0]}}
con.close()
"""
    return _measure(code)


def _prefilled(workdir: Path, rows: int, memory_limit: str) -> Path:
    """The store of ``rows`` exchanges, made once per work folder and kept (it takes minutes)."""
    kept = workdir / f"prefilled-{rows}.duckdb"
    done = workdir / f"prefilled-{rows}.done"
    if not done.exists():
        kept.unlink(missing_ok=True)
        started = time.perf_counter()
        prefill_store(kept, rows, memory_limit)
        done.write_text("")
        print(
            f"wrote the {rows:,}-row store in {time.perf_counter() - started:.1f}s", file=sys.stderr
        )
    return kept


def run_bench(
    rows: int,
    workdir: Path,
    batch_rows: int,
    memory_limit: str,
    formats: list[str],
    prefilled_rows: int = 0,
) -> dict[str, Any]:
    """Generate (or reuse) the sample, then time both loads per format; with
    ``prefilled_rows``, also stillwatch's ingest into a copy of a store that already holds that
    many exchanges (the copy is made before the clock starts)."""
    workdir.mkdir(parents=True, exist_ok=True)
    marker = workdir / f"sample-{rows}.json"
    paths: dict[str, Path] = {}
    if marker.exists():
        paths = {k: Path(v) for k, v in json.loads(marker.read_text()).items()}
    missing = tuple(f for f in formats if f not in paths or not paths[f].exists())
    if missing:
        started = time.perf_counter()
        paths.update(write_sample(workdir / f"sample-{rows}", rows, missing))
        marker.write_text(json.dumps({k: str(v) for k, v in paths.items()}))
        print(f"wrote the sample in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    results: dict[str, Any] = {
        "rows": rows,
        "batch_rows": batch_rows,
        "memory_limit": memory_limit,
        "formats": {},
    }
    for fmt in formats:
        path = paths[fmt]
        stores = [workdir / f"{fmt}-stillwatch.duckdb", workdir / f"{fmt}-copy.duckdb"]
        for s in stores:
            for p in (s, s.with_name(s.name + ".wal")):
                p.unlink(missing_ok=True)
        ours = measure_stillwatch(path, stores[0], batch_rows, memory_limit)
        copy = measure_copy(path, stores[1], fmt)
        for s in stores:
            s.unlink(missing_ok=True)
        results["formats"][fmt] = {
            "file_bytes": path.stat().st_size,
            "stillwatch": ours,
            "duckdb_copy": copy,
            "time_ratio": ours["seconds"] / copy["seconds"],
            "memory_ratio": ours["peak_bytes"] / copy["peak_bytes"],
        }
        if prefilled_rows:
            full = workdir / f"{fmt}-prefilled.duckdb"
            shutil.copyfile(_prefilled(workdir, prefilled_rows, memory_limit), full)
            into_full = measure_stillwatch(path, full, batch_rows, memory_limit)
            full.unlink(missing_ok=True)
            results["formats"][fmt]["stillwatch_prefilled"] = {
                **into_full,
                "store_rows_before": prefilled_rows,
            }
            results["formats"][fmt]["prefilled_slowdown"] = into_full["seconds"] / ours["seconds"]
    return results


def write_dialect_samples(canonical: Path, dialects: list[str], out: Path) -> dict[str, Path]:
    """The canonical JSON Lines sample written again in each dialect (same rows), kept in
    ``out`` for later runs."""
    from stillwatch.ingest.dialects.dataset import read_rows, write_records

    paths: dict[str, Path] = {}
    for dialect in dialects:
        path = out / f"exchanges.{dialect}.{'csv' if dialect == 'litellm' else 'jsonl'}"
        done = path.with_name(path.name + ".done")
        if not done.exists():
            started = time.perf_counter()
            write_records(read_rows([canonical]), dialect, path)
            done.write_text("")
            print(
                f"wrote the {dialect} sample in {time.perf_counter() - started:.1f}s",
                file=sys.stderr,
            )
        paths[dialect] = path
    return paths


def run_dialect_bench(
    rows: int, workdir: Path, batch_rows: int, memory_limit: str, dialects: list[str]
) -> dict[str, Any]:
    """Each dialect adapter's ingest of the same ``rows`` exchanges beside the canonical JSON
    Lines reader's, each in a fresh process (rows/s, peak memory)."""
    folder = workdir / f"dialects-{rows}"
    canonical = folder / "exchanges.jsonl"
    if not canonical.exists():
        write_sample(folder, rows, ("jsonl",))
    paths = {"canonical": canonical, **write_dialect_samples(canonical, dialects, folder)}
    results: dict[str, Any] = {"rows": rows, "batch_rows": batch_rows, "sources": {}}
    for name, path in paths.items():
        store = workdir / f"dialect-{name}.duckdb"
        for p in (store, store.with_name(store.name + ".wal")):
            p.unlink(missing_ok=True)
        measured = measure_stillwatch(path, store, batch_rows, memory_limit, source=name)
        store.unlink(missing_ok=True)
        measured["file_bytes"] = path.stat().st_size
        results["sources"][name] = measured
    base = results["sources"]["canonical"]
    for m in results["sources"].values():
        m["time_ratio"] = m["seconds"] / base["seconds"]
    return results
