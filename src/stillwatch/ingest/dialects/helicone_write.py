"""Canonical exchanges → Helicone request records as ``@helicone/export --include-body``
writes them (JSON Lines): the account as ``request_user_id`` (the ``Helicone-User-Id``
header), the conversation as the ``Helicone-Session-Id`` property, the provider's bodies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from stillwatch.ingest.dialects.anthropic_write import messages_request, messages_response
from stillwatch.ingest.dialects.openai_write import chat_request, chat_response
from stillwatch.ingest.dialects.write import Row, Writer, http_status, iso


class HeliconeWriter(Writer):
    name = "helicone"
    carries = frozenset(
        {
            "event_id", "ts", "account_id", "end_user_id", "conversation_id", "turn_index",
            "ip_country", "model", "endpoint", "system_prompt", "prompt", "response",
            "input_tokens", "output_tokens", "reasoning_tokens", "max_tokens", "temperature",
            "tools_count", "thinking", "status", "latency_ms",
        }
    )  # fmt: skip
    endpoints = ("chat.completions", "messages")

    def write_row(self, row: Row, earlier: list[tuple[str, str]]) -> Iterator[dict[str, Any]]:
        anthropic = row.get("endpoint") == "messages"
        request = messages_request(row, earlier) if anthropic else chat_request(row, earlier)
        response = messages_response(row) if anthropic else chat_response(row)
        status = row.get("status") or "ok"
        properties = {"Helicone-Session-Id": row["conversation_id"]} if row.get("conversation_id") else {}  # fmt: skip
        yield {
            "request_id": row.get("event_id"),
            "request_created_at": iso(row.get("ts")),
            "request_path": "/v1/messages" if anthropic else "/v1/chat/completions",
            "request_user_id": row.get("account_id"),
            "request_properties": properties,
            "request_model": row.get("model"),
            "provider": "ANTHROPIC" if anthropic else "OPENAI",
            "request_body": request,
            "response_body": response,
            "response_status": http_status(status) or 500,
            "prompt_tokens": row.get("input_tokens"),
            "completion_tokens": row.get("output_tokens"),
            "delay_ms": row.get("latency_ms"),
            "country_code": row.get("ip_country"),
        }
