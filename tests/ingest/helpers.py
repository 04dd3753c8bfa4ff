from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stillwatch.engine.store import Store
from stillwatch.ingest import discover, ingest
from stillwatch.ingest.run import RunReport


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def run(store: Store, *paths: Path, accounts: list[Path] | None = None, **kw: Any) -> RunReport:
    sources, _ = discover(
        [str(p) for p in paths],
        [str(a) for a in accounts or []],
        kw.pop("enforcements", None),
        source=kw.get("source", "auto"),
    )
    return ingest(
        store,
        sources,
        batch_rows=kw.get("batch_rows", 1000),
        max_text_bytes=kw.get("max_text_bytes", 1 << 20),
        dialect_settings=kw.get("settings"),
        max_record_bytes=kw.get("max_record_bytes", 64 << 20),
    )


def exchange(i: int, **over: Any) -> dict[str, Any]:
    row = {
        "event_id": f"e{i}",
        "ts": "2026-04-22T13:05:09.123Z",
        "account_id": f"a{i % 3}",
        "model": "frontier-1",
    }
    row.update(over)
    return row
