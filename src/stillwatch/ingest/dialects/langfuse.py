"""Langfuse observation exports: the blob-storage export's enriched layout
(``observations_v2/``: each observation with its trace's ``user_id`` and ``session_id``) and
its legacy layout (``observations/``: no trace fields), as JSON Lines, JSON or CSV; the public
API's camelCase observation objects (``traceId``, ``startTime``, ``usageDetails``…) are read
too.

Only ``GENERATION`` observations are model calls; spans, events, tools, agents and the rest
are counted as skipped. ``input`` and ``output`` hold whatever the SDK was given: a message
list, a provider request body, or plain text; each is read for what it is.

Known gaps: the legacy layout has no user: set ``langfuse_account_from = "project"`` or
``metadata:KEY`` for it. Langfuse keeps no client address, user agent or API key.
"""

from __future__ import annotations

from typing import Any, ClassVar

from stillwatch.ingest.dialects import bodies
from stillwatch.ingest.dialects.base import (
    STATUS_HTTP,
    Dialect,
    Fields,
    MappedRecord,
    Unmappable,
    from_text_time,
    maybe_json,
    millis_between,
    pick_account,
    to_text,
    type_name,
)
from stillwatch.ingest.dialects.messages import read_transcript

# camelCase (public API) -> snake_case (blob storage export)
_ALIASES = {
    "traceId": "trace_id", "projectId": "project_id", "parentObservationId": "parent_observation_id",
    "startTime": "start_time", "endTime": "end_time", "completionStartTime": "completion_start_time",
    "statusMessage": "status_message", "providedModelName": "provided_model_name",
    "modelParameters": "model_parameters", "usageDetails": "usage_details",
    "costDetails": "cost_details", "userId": "user_id", "sessionId": "session_id",
    "promptName": "prompt_name", "promptVersion": "prompt_version", "promptId": "prompt_id",
    "totalCost": "total_cost", "timeToFirstToken": "time_to_first_token", "modelId": "model_id",
    "createdAt": "created_at", "updatedAt": "updated_at", "traceName": "trace_name",
}  # fmt: skip
# Fields read for a decision, or that only repeat what is mapped (the deprecated `usage`,
# the tool calls already in the answer).
_REDUNDANT = ("type", "end_time", "latency", "usage", "tool_calls", "tool_call_names")
_INPUT_KEYS = ("input", "prompt_tokens", "input_tokens", "promptTokens")
_OUTPUT_KEYS = ("output", "completion_tokens", "output_tokens", "completionTokens")


def _first(details: Fields, keys: tuple[str, ...]) -> int | None:
    for key in keys:
        value = details.integer(key)
        if value is not None:
            return value
    return None


def _answer_text(output: Any) -> tuple[str | None, Any]:
    """Output as text: plain text, a provider response body, an assistant message, or a
    list of them. Returns (text, answer or None)."""
    output = maybe_json(output, "output")
    if output is None or output == "":
        return None, None
    if isinstance(output, str):
        return output, None
    if isinstance(output, dict) and (
        "choices" in output or "output" in output or output.get("type") == "message"
    ):
        answer = bodies.answer(output, "chat.completions")
        return answer.text, answer
    messages = output if isinstance(output, list) else [output]
    texts = []
    for message in messages:
        if isinstance(message, dict):
            content = message.get("content")
            if isinstance(content, str):
                texts.append(content)
            elif isinstance(content, list):
                texts.extend(
                    p["text"]
                    for p in content
                    if isinstance(p, dict) and isinstance(p.get("text"), str)
                )
        elif isinstance(message, str):
            texts.append(message)
    return ("\n".join(texts) if texts else None), None


class Langfuse(Dialect):
    name = "langfuse"
    setting = "langfuse_account_from"
    account_choices = ("user", "project", "session")
    account_prefixed = ("metadata",)
    default_account = "user"
    sources: ClassVar[dict[str, str]] = {"event_id": "id", "ts": "start_time", "model": "provided_model_name (model)"}  # fmt: skip

    def _score(self, obj: dict[str, Any]) -> float:
        keys = {_ALIASES.get(k, k) for k in obj}
        if {"id", "trace_id", "type", "start_time"} <= keys:
            return (
                1.0
                if ("provided_model_name" in keys or "usage_details" in keys or "model" in keys)
                else 0.8
            )
        return 0.0

    def _map(self, obj: dict[str, Any]) -> MappedRecord:
        f = Fields({_ALIASES.get(k, k): v for k, v in obj.items()})
        kind = f.text("type")
        if kind is not None and kind.upper() != "GENERATION":
            mapped = MappedRecord()
            mapped.skip(f"{kind.upper()} observation, not a model call")
            return mapped
        row: dict[str, Any] = {
            "event_id": f.text("id"),
            "ts": from_text_time(f.raw("start_time"), "start_time", naive_is_utc=True),
            "model": f.text("provided_model_name") or f.text("model"),
            "conversation_id": f.text("session_id"),
        }
        end = from_text_time(f.raw("end_time"), "end_time", naive_is_utc=True)
        row["latency_ms"] = millis_between(row["ts"], end)
        level = f.text("level")
        message = f.text("status_message", ident=False)
        row["status"] = ("error" if (level or "").upper() == "ERROR" else "ok") if level else None
        if row["status"] == "error" and message:
            row["status"] = _status_of_message(message)
        params = f.json("model_parameters")
        if isinstance(params, dict):
            p = Fields(params, "model_parameters")
            limit = p.integer("max_tokens")
            row["max_tokens"] = limit if limit is not None else p.integer("max_completion_tokens")
            row["temperature"] = p.number("temperature")
            effort = p.raw("reasoning_effort")
            row["thinking"] = None if effort is None else effort != "none"
            row["_params_unmapped"] = p.unmapped()
        elif params not in (None, ""):
            raise Unmappable(f"model_parameters: expected an object, got {type_name(params)}")
        tools = f.json("tool_definitions")
        row["tools_count"] = len(tools) if isinstance(tools, list | dict) else None
        self._input(f, row)
        text, answer = _answer_text(f.raw("output"))
        row["response"] = text
        usage = f.sub("usage_details")
        if usage is not None:
            row["input_tokens"] = _first(usage, _INPUT_KEYS)
            row["output_tokens"] = _first(usage, _OUTPUT_KEYS)
            row["reasoning_tokens"] = _first(
                usage, ("reasoning_tokens", "output_reasoning_tokens", "output_reasoning")
            )
            usage.use("total")
        elif answer is not None:
            row["input_tokens"], row["output_tokens"] = answer.input_tokens, answer.output_tokens
        f.use(*_REDUNDANT)
        metadata = f.json("metadata")

        def account(choice: str) -> tuple[str, str | None]:
            if choice == "user":
                return "user_id", f.text("user_id")
            if choice == "project":
                return "project_id", f.text("project_id")
            if choice == "session":
                return "session_id", row["conversation_id"]
            key = choice.split(":", 1)[1]
            value = metadata.get(key) if isinstance(metadata, dict) else None
            return f"metadata.{key}", to_text(value, f"metadata.{key}")

        row["account_id"] = pick_account(self.account_order, account)
        user = f.text("user_id")
        row["end_user_id"] = user if user != row["account_id"] else None
        params_unmapped = row.pop("_params_unmapped", [])
        mapped = MappedRecord(exchanges=[self.finish(row)])
        mapped.note_unmapped(f.unmapped())
        mapped.note_unmapped(params_unmapped)
        return mapped

    def _input(self, f: Fields, row: dict[str, Any]) -> None:
        """Input: a message list, a provider request body, or plain text."""
        value = f.json("input")
        if value is None or value == "":
            return
        if isinstance(value, str):
            row["prompt"] = value
            return
        if isinstance(value, dict) and ("messages" in value or "input" in value):
            kind = bodies.request_kind(value)
            columns = bodies.request_columns(Fields(value, "input"), kind)
            for column in ("system_prompt", "prompt", "turn_index"):
                row[column] = columns.get(column)
            for column in ("max_tokens", "temperature", "tools_count", "thinking"):
                if row.get(column) is None:
                    row[column] = columns.get(column)
            return
        messages = value if isinstance(value, list) else [value]
        transcript = read_transcript(messages, "input")
        row["system_prompt"], row["prompt"], row["turn_index"] = (
            transcript.system,
            transcript.prompt,
            transcript.turn_index,
        )


def _status_of_message(message: str) -> str:
    """The canonical status an error observation's message names: a status name itself
    (what the writer puts there), else an HTTP code or words in it."""
    if message.strip() in STATUS_HTTP:
        return message.strip()
    lowered = message.lower()
    for needle, status in (
        ("429", "rate_limited"),
        ("rate limit", "rate_limited"),
        ("overloaded", "overloaded"),
        ("529", "overloaded"),
        ("400", "invalid_request"),
        ("invalid", "invalid_request"),
        ("timeout", "timeout"),
    ):
        if needle in lowered:
            return status
    return "error"
