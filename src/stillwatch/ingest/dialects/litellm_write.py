"""Canonical exchanges → rows of LiteLLM's ``LiteLLM_SpendLogs`` table, as stored with
``store_prompts_in_spend_logs`` on: the request in ``proxy_server_request`` (url, method,
headers, body), the answer in ``response``. The account is written as ``team_id``. For CSV,
:func:`csv_row` encodes the JSON columns as text, as a database export does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from stillwatch.ingest.dialects.anthropic_write import messages_request, messages_response
from stillwatch.ingest.dialects.openai_write import (
    chat_request,
    chat_response,
    responses_request,
    responses_response,
)
from stillwatch.ingest.dialects.write import Row, Writer, drop_none, end_of, http_status, moment

_CALL = {"messages": "anthropic_messages", "responses": "aresponses"}
_PATH = {"messages": "/v1/messages", "responses": "/v1/responses"}
COLUMNS = (
    "request_id", "call_type", "api_key", "spend", "total_tokens", "prompt_tokens",
    "completion_tokens", "startTime", "endTime", "request_duration_ms", "model", "model_group",
    "user", "metadata", "team_id", "end_user", "requester_ip_address", "session_id", "status",
    "proxy_server_request", "response",
)  # fmt: skip
_JSON_COLUMNS = ("metadata", "proxy_server_request", "response")


def _db_time(value: Any) -> str | None:
    """Postgres ``timestamp(3)`` text, UTC without a zone, as LiteLLM stores it."""
    m = moment(value)
    return m.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if m else None


class LiteLLMWriter(Writer):
    name = "litellm"
    carries = frozenset(
        {
            "event_id", "ts", "account_id", "api_key_id", "end_user_id", "conversation_id",
            "turn_index", "ip", "user_agent", "model", "endpoint", "system_prompt", "prompt",
            "response", "input_tokens", "output_tokens", "reasoning_tokens", "max_tokens",
            "temperature", "tools_count", "thinking", "status", "latency_ms",
        }
    )  # fmt: skip
    endpoints = ("chat.completions", "responses", "messages")

    def write_row(self, row: Row, earlier: list[tuple[str, str]]) -> Iterator[dict[str, Any]]:
        endpoint = row.get("endpoint")
        status = row.get("status") or "ok"
        if endpoint == "messages":
            body, response = messages_request(row, earlier), messages_response(row)
        elif endpoint == "responses":
            body, response = responses_request(row, earlier), responses_response(row)
        else:
            body, response = chat_request(row, earlier), chat_response(row)
        if row.get("end_user_id"):
            body.pop("safety_identifier", None)
            if endpoint == "messages":
                body.pop("metadata", None)
        metadata: dict[str, Any] = {}
        if row.get("reasoning_tokens") is not None:
            metadata["additional_usage_values"] = {
                "completion_tokens_details": {"reasoning_tokens": row["reasoning_tokens"]}
            }
        if status != "ok":
            code = http_status(status)
            metadata["error_information"] = (
                {"error_code": str(code)} if code else {"error_class": status}
            )
            response = {}
        yield drop_none(
            {
                "request_id": row.get("event_id"),
                "call_type": _CALL.get(endpoint or "", "acompletion"),
                "api_key": row.get("api_key_id"),
                "spend": 0.0,
                "total_tokens": (row.get("input_tokens") or 0) + (row.get("output_tokens") or 0),
                "prompt_tokens": row.get("input_tokens"),
                "completion_tokens": row.get("output_tokens"),
                "startTime": _db_time(row.get("ts")),
                "endTime": _db_time(end_of(row)),
                "request_duration_ms": row.get("latency_ms"),
                "model": row.get("model"),
                "model_group": row.get("model"),
                "metadata": metadata,
                "team_id": row.get("account_id"),
                "end_user": row.get("end_user_id"),
                "requester_ip_address": row.get("ip"),
                "session_id": row.get("conversation_id"),
                "status": "success" if status == "ok" else "failure",
                "proxy_server_request": {
                    "url": "http://0.0.0.0:4000"
                    + _PATH.get(endpoint or "", "/v1/chat/completions"),
                    "method": "POST",
                    "headers": drop_none({"user-agent": row.get("user_agent")}),
                    "body": body,
                },
                "response": response,
            }
        )


def csv_row(record: dict[str, Any]) -> dict[str, str]:
    """A spend-log record as CSV cells: JSON columns as JSON text, absent values empty."""
    out = {}
    for column in COLUMNS:
        value = record.get(column)
        if column in _JSON_COLUMNS:
            out[column] = json.dumps(value if value is not None else {})
        else:
            out[column] = "" if value is None else str(value)
    return out
