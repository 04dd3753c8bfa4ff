"""Canonical exchanges → Langfuse ``GENERATION`` observations in the blob-storage export's
enriched layout (``observations_v2``; the account as ``user_id``) or, with ``legacy=True``,
its legacy layout (no trace fields; the account in ``metadata.account_id``, read back with
``langfuse_account_from = "metadata:account_id"``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from stillwatch.ingest.dialects.openai_write import effort
from stillwatch.ingest.dialects.write import (
    Row,
    Writer,
    drop_none,
    end_of,
    hex_id,
    moment,
    transcript,
)


def _export_time(value: Any) -> str | None:
    """``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC, the export's timestamp form."""
    m = moment(value)
    return m.strftime("%Y-%m-%d %H:%M:%S.%f") if m else None


class LangfuseWriter(Writer):
    name = "langfuse"
    carries = frozenset(
        {
            "event_id", "ts", "account_id", "conversation_id", "turn_index", "model",
            "system_prompt", "prompt", "response", "input_tokens", "output_tokens",
            "reasoning_tokens", "max_tokens", "temperature", "tools_count", "thinking", "status",
            "latency_ms",
        }
    )  # fmt: skip
    endpoints = ("chat.completions", "responses", "messages")

    def __init__(self, legacy: bool = False) -> None:
        super().__init__()
        self.legacy = legacy

    def write_row(self, row: Row, earlier: list[tuple[str, str]]) -> Iterator[dict[str, Any]]:
        status = row.get("status") or "ok"
        params = drop_none(
            {
                "max_tokens": row.get("max_tokens"),
                "temperature": row.get("temperature"),
                "reasoning_effort": effort(row.get("thinking")),
            }
        )
        usage = drop_none(
            {
                "input": row.get("input_tokens"),
                "output": row.get("output_tokens"),
                "reasoning_tokens": row.get("reasoning_tokens"),
            }
        )
        if usage:
            usage["total"] = (row.get("input_tokens") or 0) + (row.get("output_tokens") or 0)
        tools = row.get("tools_count")
        start, end = moment(row.get("ts")), end_of(row)
        record: dict[str, Any] = {
            "id": row.get("event_id"),
            "trace_id": hex_id("trace:" + str(row.get("event_id")), 32),
            "project_id": "stillwatch",
            "environment": "default",
            "type": "GENERATION",
            "parent_observation_id": "",
            "start_time": _export_time(start),
            "end_time": _export_time(end),
            "name": "chat",
            "metadata": {"account_id": row.get("account_id")} if self.legacy else {},
            "level": "DEFAULT" if status == "ok" else "ERROR",
            "status_message": "" if status == "ok" else status,
            "input": json.dumps(transcript(row, earlier, system_in_list=True)),
            "output": json.dumps({"role": "assistant", "content": row["response"]})
            if row.get("response") is not None
            else "",
            "provided_model_name": row.get("model"),
            "model_parameters": json.dumps(params),
            "usage_details": usage,
            "cost_details": {},
            "tool_definitions": {f"tool_{i}": {"type": "function"} for i in range(tools)}
            if tools is not None
            else None,
        }
        if not self.legacy:
            record.update(
                user_id=row.get("account_id"), session_id=row.get("conversation_id") or "", tags=[]
            )
        yield {k: v for k, v in record.items() if v is not None}
