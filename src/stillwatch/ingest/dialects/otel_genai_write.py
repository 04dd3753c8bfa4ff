"""Canonical exchanges → OTLP JSON export requests of GenAI inference spans, with the newer
semantic-convention names (``conventions="new"``) or the older ones (``"old"``: v1.36 and
before, as most instrumentations still emit by default). ``spans_per_export`` spans share one
export request (one JSON line)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from stillwatch.ingest.dialects.write import (
    Row,
    Writer,
    end_of,
    error_type,
    hex_id,
    http_status,
    moment,
    transcript,
)

_PROVIDERS = {"messages": "anthropic", "chat.completions": "openai"}


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": str(value)}


def _nanos(value: Any) -> str | None:
    m = moment(value)
    if m is None:
        return None
    return str((int(m.timestamp()) * 1_000_000 + m.microsecond) * 1000)


class OtelGenAIWriter(Writer):
    name = "otel-genai"
    carries = frozenset(
        {
            "event_id", "ts", "account_id", "conversation_id", "turn_index", "ip", "user_agent",
            "tls_fingerprint", "model", "endpoint", "system_prompt", "prompt", "response",
            "input_tokens", "output_tokens", "reasoning_tokens", "max_tokens", "temperature",
            "tools_count", "status", "latency_ms",
        }
    )  # fmt: skip
    endpoints = ("chat.completions", "messages")

    def __init__(self, conventions: str = "new", spans_per_export: int = 100) -> None:
        super().__init__()
        if conventions not in ("new", "old"):
            raise ValueError(f"conventions: 'new' or 'old', got {conventions!r}")
        self.conventions = conventions
        self.spans_per_export = spans_per_export

    def records(self, rows: Iterable[Row]) -> Iterator[dict[str, Any]]:
        spans: list[dict[str, Any]] = []
        for span in super().records(rows):
            spans.append(span)
            if len(spans) >= self.spans_per_export:
                yield self._export(spans)
                spans = []
        if spans:
            yield self._export(spans)

    def _export(self, spans: list[dict[str, Any]]) -> dict[str, Any]:
        resource = {
            "attributes": [{"key": "service.name", "value": {"stringValue": "stillwatch-writer"}}]
        }
        scope = {"name": "stillwatch.ingest.dialects", "version": "1"}
        return {
            "resourceSpans": [
                {"resource": resource, "scopeSpans": [{"scope": scope, "spans": spans}]}
            ]
        }

    def write_row(self, row: Row, earlier: list[tuple[str, str]]) -> Iterator[dict[str, Any]]:
        new = self.conventions == "new"
        status = row.get("status") or "ok"
        provider = _PROVIDERS.get(row.get("endpoint") or "", "openai")
        messages = transcript(row, earlier, system_in_list=not new)
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            ("gen_ai.provider.name" if new else "gen_ai.system"): provider,
            "gen_ai.request.model": row.get("model"),
            "gen_ai.response.id": row.get("event_id"),
            "gen_ai.request.max_tokens": row.get("max_tokens"),
            "gen_ai.request.temperature": row.get("temperature"),
            ("gen_ai.usage.input_tokens" if new else "gen_ai.usage.prompt_tokens"): row.get(
                "input_tokens"
            ),
            ("gen_ai.usage.output_tokens" if new else "gen_ai.usage.completion_tokens"): row.get(
                "output_tokens"
            ),
            "gen_ai.usage.reasoning.output_tokens": row.get("reasoning_tokens"),
            "gen_ai.conversation.id": row.get("conversation_id"),
            "user.id": row.get("account_id"),
            "client.address": row.get("ip"),
            "user_agent.original": row.get("user_agent"),
            "tls.client.ja3": row.get("tls_fingerprint"),
        }
        if row.get("tools_count") is not None:
            attrs["gen_ai.tool.definitions"] = json.dumps(
                [{"type": "function", "name": f"tool_{i}"} for i in range(row["tools_count"])]
            )
        if new:
            attrs["gen_ai.input.messages"] = json.dumps(
                [
                    {"role": m["role"], "parts": [{"type": "text", "content": m["content"]}]}
                    for m in messages
                ]
            )
            if row.get("system_prompt"):
                attrs["gen_ai.system_instructions"] = json.dumps(
                    [{"type": "text", "content": row["system_prompt"]}]
                )
            if row.get("response") is not None:
                attrs["gen_ai.output.messages"] = json.dumps(
                    [
                        {
                            "role": "assistant",
                            "parts": [{"type": "text", "content": row["response"]}],
                            "finish_reason": "stop",
                        }
                    ]
                )
        else:
            attrs["gen_ai.prompt"] = json.dumps(messages)
            if row.get("response") is not None:
                attrs["gen_ai.completion"] = json.dumps(
                    [{"role": "assistant", "content": row["response"]}]
                )
        span_status: dict[str, Any] = {}
        if status != "ok":
            code = http_status(status)
            attrs["error.type"] = str(code) if code else error_type(status)
            span_status = {"code": 2, "message": status}
        event_id = str(row.get("event_id"))
        end = end_of(row)
        yield {
            "traceId": hex_id("trace:" + event_id, 32),
            "spanId": hex_id("span:" + event_id, 16),
            "name": f"chat {row.get('model')}",
            "kind": 3,
            "startTimeUnixNano": _nanos(row.get("ts")),
            "endTimeUnixNano": _nanos(end) if end else None,
            "attributes": [
                {"key": k, "value": _value(v)} for k, v in attrs.items() if v is not None
            ],
            "status": span_status,
        }
