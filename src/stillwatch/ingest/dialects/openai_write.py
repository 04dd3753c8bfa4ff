"""Canonical exchanges → OpenAI Chat Completions (or Responses, for rows whose endpoint is
``responses``) bodies in stillwatch's gateway envelope. ``stream=True`` writes the response
as its list of streamed chunks (or events)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from stillwatch.ingest.dialects.envelope_write import ENVELOPE_CARRIES, EnvelopeWriter
from stillwatch.ingest.dialects.write import (
    Row,
    drop_none,
    error_type,
    moment,
    placeholder_tools,
    transcript,
)

PATHS = {"chat.completions": "/v1/chat/completions", "responses": "/v1/responses"}


def effort(thinking: bool | None) -> str | None:
    return None if thinking is None else ("medium" if thinking else "none")


def chat_request(row: Row, earlier: list[tuple[str, str]]) -> dict[str, Any]:
    return drop_none(
        {
            "model": row.get("model"),
            "messages": transcript(row, earlier, system_in_list=True),
            "max_completion_tokens": row.get("max_tokens"),
            "temperature": row.get("temperature"),
            "tools": placeholder_tools(row.get("tools_count"), "chat") or None,
            "reasoning_effort": effort(row.get("thinking")),
            "safety_identifier": row.get("end_user_id"),
        }
    )


def responses_request(row: Row, earlier: list[tuple[str, str]]) -> dict[str, Any]:
    return drop_none(
        {
            "model": row.get("model"),
            "instructions": row.get("system_prompt"),
            "input": transcript(row, earlier, system_in_list=False),
            "max_output_tokens": row.get("max_tokens"),
            "temperature": row.get("temperature"),
            "tools": placeholder_tools(row.get("tools_count"), "responses") or None,
            "reasoning": {"effort": effort(row["thinking"])}
            if row.get("thinking") is not None
            else None,
            "safety_identifier": row.get("end_user_id"),
        }
    )


def _usage_chat(row: Row) -> dict[str, Any] | None:
    if row.get("input_tokens") is None and row.get("output_tokens") is None:
        return None
    usage: dict[str, Any] = drop_none(
        {"prompt_tokens": row.get("input_tokens"), "completion_tokens": row.get("output_tokens")}
    )
    usage["total_tokens"] = (row.get("input_tokens") or 0) + (row.get("output_tokens") or 0)
    if row.get("reasoning_tokens") is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": row["reasoning_tokens"]}
    return usage


def error_body(status: str) -> dict[str, Any]:
    return {"error": {"type": error_type(status), "message": status.replace("_", " ")}}


def chat_response(row: Row) -> dict[str, Any]:
    status = row.get("status") or "ok"
    if status != "ok":
        return error_body(status)
    created = moment(row.get("ts"))
    return drop_none(
        {
            "id": "chatcmpl-" + str(row.get("event_id")),
            "object": "chat.completion",
            "created": int(created.timestamp()) if created else None,
            "model": row.get("model"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": row.get("response")},
                    "finish_reason": "stop",
                }
            ],
            "usage": _usage_chat(row),
        }
    )


def chat_chunks(row: Row) -> list[dict[str, Any]]:
    """The answer split into streamed chunks; usage on a last chunk (``include_usage``)."""
    status = row.get("status") or "ok"
    if status != "ok":
        return [error_body(status)]
    head = {"id": "chatcmpl-" + str(row.get("event_id")), "object": "chat.completion.chunk", "model": row.get("model")}  # fmt: skip
    text = row.get("response") or ""
    pieces = [text[i : i + 16] for i in range(0, len(text), 16)]
    chunks = [{**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
    chunks += [{**head, "choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
    chunks.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    usage = _usage_chat(row)
    if usage is not None:
        chunks.append({**head, "choices": [], "usage": usage})
    return chunks


def responses_response(row: Row) -> dict[str, Any]:
    status = row.get("status") or "ok"
    created = moment(row.get("ts"))
    body: dict[str, Any] = {
        "id": "resp_" + str(row.get("event_id")),
        "object": "response",
        "created_at": int(created.timestamp()) if created else None,
        "status": "completed" if status == "ok" else "failed",
        "error": None if status == "ok" else {"code": error_type(status), "message": status},
        "model": row.get("model"),
        "output": [],
    }
    if row.get("response") is not None and status == "ok":
        body["output"] = [
            {
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": row["response"], "annotations": []}],
            }
        ]
    if row.get("input_tokens") is not None or row.get("output_tokens") is not None:
        body["usage"] = drop_none(
            {
                "input_tokens": row.get("input_tokens"),
                "output_tokens": row.get("output_tokens"),
                "output_tokens_details": {"reasoning_tokens": row["reasoning_tokens"]}
                if row.get("reasoning_tokens") is not None
                else None,
            }
        )
    return drop_none(body)


class OpenAIWriter(EnvelopeWriter):
    name = "openai"
    carries = ENVELOPE_CARRIES | {"reasoning_tokens"}
    endpoints = ("chat.completions", "responses")

    def write_row(self, row: Row, earlier: list[tuple[str, str]]) -> Iterator[dict[str, Any]]:
        kind = "responses" if row.get("endpoint") == "responses" else "chat.completions"
        if kind == "responses":
            request = responses_request(row, earlier)
            body = responses_response(row)
            response: Any = (
                [
                    {
                        "type": "response.created",
                        "response": {**body, "status": "in_progress", "output": []},
                    },
                    {"type": "response.completed", "response": body},
                ]
                if self.stream
                else body
            )
        else:
            request = chat_request(row, earlier)
            response = chat_chunks(row) if self.stream else chat_response(row)
        yield self.envelope(row, PATHS[kind], request, response)
