"""Canonical exchanges → Anthropic Messages bodies in stillwatch's gateway envelope;
``stream=True`` writes the response as its list of server-sent events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from stillwatch.ingest.dialects.envelope_write import EnvelopeWriter
from stillwatch.ingest.dialects.write import (
    Row,
    drop_none,
    error_type,
    placeholder_tools,
    transcript,
)


def messages_request(row: Row, earlier: list[tuple[str, str]]) -> dict[str, Any]:
    thinking = row.get("thinking")
    return drop_none(
        {
            "model": row.get("model"),
            "max_tokens": row.get("max_tokens"),
            "system": row.get("system_prompt"),
            "messages": transcript(row, earlier, system_in_list=False),
            "temperature": row.get("temperature"),
            "tools": placeholder_tools(row.get("tools_count"), "anthropic") or None,
            "thinking": None
            if thinking is None
            else ({"type": "enabled", "budget_tokens": 1024} if thinking else {"type": "disabled"}),
            "metadata": {"user_id": row["end_user_id"]} if row.get("end_user_id") else None,
        }
    )


def _usage(row: Row) -> dict[str, Any] | None:
    if row.get("input_tokens") is None and row.get("output_tokens") is None:
        return None
    return drop_none(
        {"input_tokens": row.get("input_tokens"), "output_tokens": row.get("output_tokens")}
    )


def messages_response(row: Row) -> dict[str, Any]:
    status = row.get("status") or "ok"
    if status != "ok":
        return {
            "type": "error",
            "error": {"type": error_type(status), "message": status.replace("_", " ")},
        }
    text = row.get("response")
    return drop_none(
        {
            "id": "msg_" + str(row.get("event_id")),
            "type": "message",
            "role": "assistant",
            "model": row.get("model"),
            "content": [{"type": "text", "text": text}] if text is not None else [],
            "stop_reason": "end_turn",
            "usage": _usage(row),
        }
    )


def message_events(row: Row) -> list[dict[str, Any]]:
    status = row.get("status") or "ok"
    if status != "ok":
        return [{"type": "error", "error": {"type": error_type(status), "message": status}}]
    usage = _usage(row) or {}
    start_usage = {"input_tokens": usage["input_tokens"], "output_tokens": 1} if "input_tokens" in usage else {}  # fmt: skip
    events: list[dict[str, Any]] = [
        {
            "type": "message_start",
            "message": {
                "id": "msg_" + str(row.get("event_id")),
                "type": "message",
                "role": "assistant",
                "model": row.get("model"),
                "content": [],
                "usage": start_usage,
            },
        },
    ]
    text = row.get("response")
    if text is not None:
        events.append(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            }
        )
        events.append({"type": "ping"})
        events += [
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": text[i : i + 16]},
            }
            for i in range(0, len(text), 16)
        ]
        events.append({"type": "content_block_stop", "index": 0})
    delta: dict[str, Any] = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}}
    if "output_tokens" in usage:
        delta["usage"] = {"output_tokens": usage["output_tokens"]}
    events += [delta, {"type": "message_stop"}]
    return events


class AnthropicWriter(EnvelopeWriter):
    name = "anthropic"
    endpoints = ("messages",)

    def write_row(self, row: Row, earlier: list[tuple[str, str]]) -> Iterator[dict[str, Any]]:
        response = message_events(row) if self.stream else messages_response(row)
        yield self.envelope(row, "/v1/messages", messages_request(row, earlier), response)
