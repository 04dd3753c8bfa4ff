"""``POST /api/v1/exchanges``: a gateway, a LiteLLM callback or a script sends a batch of
exchanges, as canonical rows or in any log dialect's records, and stillwatch ingests it like
a file given to ``stillwatch ingest --source``: the same validation and quarantine rules, one
transaction per batch, repeated event ids counted as duplicates (so sending a batch again
changes nothing).

How it writes (docs/web.md, "Ingest through the API"): the store has one writer at a time, so
the request takes the store's write lock for the batch, waiting up to ``INGEST_LOCK_WAIT``
seconds for this server's own readers and for another process's ingest or scan, and otherwise
answers 503 with ``Retry-After``. The server still never keeps the store open between requests.

The body is JSON Lines (``application/x-ndjson``: one record per line, as in a file, so a
broken line is quarantined alone), a JSON array of records or ``{"records": [...]}``
(``application/json``), or CSV (``text/csv``: LiteLLM's spend logs); at most
``web_ingest_max_body_bytes``. ``?source=`` names the dialect (default ``auto``).
"""

from __future__ import annotations

import json
import tempfile
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool

from stillwatch.errors import InputError, UsageError
from stillwatch.ingest.run import INGEST_MEMORY_SHARE, ingest_file
from stillwatch.ingest.sources import SOURCES, SourceFile
from stillwatch.web.auth import Principal
from stillwatch.web.context import ServerState, require, server
from stillwatch.web.storeview import INGEST_LOCK_WAIT

PATH = "/api/v1/exchanges"
router = APIRouter(prefix="/api/v1", tags=["api"])
Analyst = Annotated[Principal, Depends(require("analyst"))]
QUARANTINE_SHOWN = 50  # quarantined rows listed in the answer (all are in the store)
_JSON_TYPES = ("application/json",)
_LINES_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-lines")


def _lines_of(body: bytes, content_type: str) -> tuple[bytes, str]:
    """The batch as a file's bytes and that file's format."""
    kind = content_type.split(";")[0].strip().lower()
    if kind in _LINES_TYPES:
        return body, "jsonl"
    if kind == "text/csv":
        return body, "csv"
    if kind not in _JSON_TYPES:
        raise HTTPException(
            415, "send application/json, application/x-ndjson (JSON Lines) or text/csv"
        )
    try:
        parsed = json.loads(body)
    except RecursionError:
        raise HTTPException(422, "the body nests too deep; send JSON Lines instead") from None
    except ValueError as exc:
        message = str(exc).splitlines()[0][:120]
        raise HTTPException(422, f"the body is not valid JSON ({message})") from None
    records = parsed.get("records") if isinstance(parsed, dict) else parsed
    if not isinstance(records, list):
        raise HTTPException(422, 'the body must be a JSON array of records or {"records": [...]}')
    try:
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    except (ValueError, RecursionError):
        raise HTTPException(422, "a record nests too deep; send JSON Lines instead") from None
    return text.encode("utf-8", "surrogatepass"), "jsonl"


def _ingest(sw: ServerState, data: bytes, fmt: str, source: str, label: str) -> dict[str, Any]:
    settings = sw.config.ingest
    with tempfile.TemporaryDirectory(prefix="stillwatch-api-") as folder:
        path = Path(folder) / f"batch.{fmt}"
        path.write_bytes(data)
        batch = SourceFile(path, "exchanges", fmt, False, source, label)
        try:
            with sw.view.writing(INGEST_LOCK_WAIT) as store:
                with store.memory_share(INGEST_MEMORY_SHARE):
                    report = ingest_file(
                        store,
                        batch,
                        uuid.uuid4().hex[:12],
                        batch_rows=int(settings.get("batch_rows", 500_000)),
                        max_text_bytes=int(settings.get("max_text_bytes", 1 << 20)),
                        conflict_window=int(settings.get("conflict_window", 86_400)),
                        dialect_settings=settings,
                        max_record_bytes=int(settings.get("max_record_bytes", 64 << 20)),
                        again=True,
                    )
                quarantined = store.sql(
                    """SELECT line, part, reason FROM quarantine WHERE ingest_id = ?
                       ORDER BY line LIMIT ?""",
                    [report.ingest_id, QUARANTINE_SHOWN],
                )
        except (InputError, UsageError) as exc:
            raise HTTPException(422, str(exc).replace(str(path), label)) from None
    sw.risk.refresh()  # the new accounts are known to the risk endpoint at once
    return {
        "ingest_id": report.ingest_id,
        "source": report.source,
        "records_read": report.records_read if report.source != "canonical" else None,
        "rows_read": report.rows_read,
        "rows_mapped": report.rows_mapped if report.source != "canonical" else None,
        "accepted": report.accepted,
        "duplicates": report.duplicates,
        "conflicts": report.conflicts,
        "quarantined": report.quarantined,
        "parts_skipped": report.parts_skipped,
        "unmapped": report.unmapped,
        "warnings": report.warnings,
        "quarantine": [{"line": q[0], "part": q[1], "reason": q[2]} for q in quarantined],
    }


@router.post(
    "/exchanges",
    summary="Ingest a batch of exchanges: canonical rows or a log dialect's records",
)
async def post_exchanges(
    request: Request,
    who: Analyst,
    source: Annotated[str, Query(max_length=32)] = "auto",
) -> dict[str, Any]:
    """Counts as ``stillwatch ingest --format json`` gives them, per batch: rows read =
    accepted + duplicates + conflicts + quarantined; the quarantined rows' reasons (first 50).
    503 with Retry-After while an ingest or scan holds the store."""
    if source not in SOURCES:
        raise HTTPException(422, f"source must be one of {', '.join(SOURCES)}")
    body = await request.body()
    if not body.strip():
        raise HTTPException(422, "the body holds no records")
    data, fmt = _lines_of(body, request.headers.get("content-type", ""))
    label = f"api:{who.username}:{uuid.uuid4().hex[:12]}"
    return await run_in_threadpool(_ingest, server(request), data, fmt, source, label)
