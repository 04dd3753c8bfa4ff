"""Anthropic Messages exchanges inside stillwatch's gateway envelope.

Maps the request (model, ``system`` as text or blocks, messages with content blocks,
``max_tokens``, temperature, tools, ``thinking``, ``metadata.user_id``), the response or its
streamed events (text blocks, tool use, usage with cache fields, errors) and the envelope.

Input tokens are the sum of ``input_tokens``, ``cache_creation_input_tokens`` and
``cache_read_input_tokens``: Anthropic counts cached input apart, OpenAI inside
``prompt_tokens``; the sum makes the two comparable. Known gaps: Anthropic does not report
thinking tokens apart from output tokens, so ``reasoning_tokens`` stays empty; thinking text
is not part of ``response``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from stillwatch.ingest.dialects.base import (
    Dialect,
    Fields,
    MappedRecord,
    Unmappable,
    load_json,
    status_from_error_type,
    type_name,
)
from stillwatch.ingest.dialects.envelope import looks_like_envelope, read_envelope
from stillwatch.ingest.dialects.messages import (
    Answer,
    content_text,
    read_transcript,
    sse_events,
    tool_call_line,
)


def thinking_of(config: Fields | None) -> bool | None:
    if config is None:
        return None
    kind = config.text("type")
    config.use("budget_tokens")
    return None if kind is None else kind != "disabled"


class Anthropic(Dialect):
    name = "anthropic"
    setting = "anthropic_account_from"
    account_choices = ("account", "project", "key", "end_user")
    default_account = "account"
    sources: ClassVar[dict[str, str]] = {
        "event_id": "request_id and response id",
        "ts": "time",
        "model": "request.model",
    }

    def _score(self, obj: dict[str, Any]) -> float:
        if not looks_like_envelope(obj):
            return 0.0
        endpoint = str(obj.get("endpoint") or "").split("?")[0].rstrip("/")
        if endpoint.endswith("/messages"):
            return 1.0
        if "chat/completions" in endpoint or endpoint.endswith("/responses"):
            return 0.0
        body = obj["request"]
        response = obj.get("response")
        if isinstance(response, dict) and response.get("type") == "message":
            return 0.95
        if isinstance(body.get("metadata"), dict) and "user_id" in body["metadata"]:
            return 0.9
        if "system" in body or "thinking" in body:
            return 0.8
        if "messages" in body and "max_tokens" in body:
            return 0.5
        return 0.1

    def _map(self, obj: dict[str, Any]) -> MappedRecord:
        env = read_envelope(obj)
        path = (env.endpoint or "").split("?")[0].rstrip("/")
        if path and not path.endswith("/messages"):
            raise Unmappable(f"not an Anthropic Messages exchange (endpoint {env.endpoint!r})")
        req = env.request
        if "messages" not in req.obj:
            raise Unmappable("not an Anthropic Messages exchange: request.messages missing")
        row = env.base_row()
        row.update(request_columns(req))
        answer = messages_answer(env.response)
        return env.mapped(row, answer, self, "request.metadata.user_id")


def request_columns(req: Fields) -> dict[str, Any]:
    """Columns from a Messages request body."""
    row: dict[str, Any] = {"endpoint": "messages", "model": req.text("model")}
    metadata = req.sub("metadata")
    row["end_user_id"] = metadata.text("user_id") if metadata else None
    system = content_text(req.raw("system"), f"{req.path}.system")
    transcript = read_transcript(
        req.array("messages") or [], f"{req.path}.messages", [system or ""]
    )
    row["system_prompt"] = transcript.system
    row["prompt"] = transcript.prompt
    row["turn_index"] = transcript.turn_index
    row["max_tokens"] = req.integer("max_tokens")
    row["temperature"] = req.number("temperature")
    row["tools_count"] = len(req.array("tools") or [])
    row["thinking"] = thinking_of(req.sub("thinking"))
    req.use("stream")
    return row


def _usage(answer: Answer, usage: Fields | None) -> None:
    if usage is None:
        return
    parts = [
        usage.integer("input_tokens"),
        usage.integer("cache_creation_input_tokens"),
        usage.integer("cache_read_input_tokens"),
    ]
    if any(p is not None for p in parts):
        answer.input_tokens = sum(p or 0 for p in parts)
    output = usage.integer("output_tokens")
    if output is not None:
        answer.output_tokens = output
    usage.use("cache_creation")  # the same cache writes, split by lifetime


def _block_lines(blocks: list[Any], path: str) -> list[str]:
    lines: list[str] = []
    for i, block in enumerate(blocks):
        if not isinstance(block, dict):
            raise Unmappable(f"{path}[{i}]: expected a content block, got {type_name(block)}")
        kind = block.get("type")
        if kind == "text":
            text = content_text(block, f"{path}[{i}]")
            if text:
                lines.append(text)
        elif kind in ("tool_use", "server_tool_use"):
            lines.append(tool_call_line(block.get("name"), block.get("input", {})))
    return lines


def _error(error: Any, path: str) -> str:
    if not isinstance(error, dict):
        raise Unmappable(f"{path}: expected an object, got {type_name(error)}")
    kind = error.get("type")
    return status_from_error_type(kind if isinstance(kind, str) else None) or "error"


def messages_answer(response: Any) -> Answer:
    answer = Answer()
    if response is None:
        return answer
    if isinstance(response, list | str):
        return _stream(response, answer)
    if not isinstance(response, dict):
        raise Unmappable(
            f"response: expected an object or a list of events, got {type_name(response)}"
        )
    r = Fields(response, "response")
    if r.obj.get("type") == "error":
        answer.status = _error(r.raw("error"), "response.error")
        r.use("type", "request_id")
        answer.unmapped = r.unmapped()
        return answer
    answer.response_id = r.text("id")
    r.use("type", "role")
    blocks = r.array("content") or []
    answer.text = "\n".join(_block_lines(blocks, "response.content")) or None
    _usage(answer, r.sub("usage"))
    answer.status = "ok"
    answer.unmapped = r.unmapped()
    return answer


def _stream(stream: Any, answer: Answer) -> Answer:
    """Events: message_start, content_block_start/delta/stop, message_delta, message_stop,
    ping, error. A stream cut short keeps what arrived."""
    blocks: dict[int, dict[str, Any]] = {}
    answer.status = "ok"
    for i, event in enumerate(sse_events(stream, "response")):
        where = f"response[{i}]"
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message")
            if isinstance(message, dict):
                if isinstance(message.get("id"), str):
                    answer.response_id = message["id"]
                if isinstance(message.get("usage"), dict):
                    _usage(answer, Fields(message["usage"], f"{where}.message.usage"))
        elif kind == "content_block_start":
            block = event.get("content_block")
            index = event.get("index")
            if isinstance(block, dict) and isinstance(index, int):
                blocks[index] = {**block, "_json": ""}
        elif kind == "content_block_delta":
            delta = event.get("delta")
            index = event.get("index")
            block = blocks.get(index) if isinstance(index, int) else None
            if not isinstance(delta, dict) or block is None:
                continue
            if delta.get("type") == "text_delta" and isinstance(delta.get("text"), str):
                previous = block.get("text")
                block["text"] = (previous if isinstance(previous, str) else "") + delta["text"]
            elif delta.get("type") == "input_json_delta" and isinstance(
                delta.get("partial_json"), str
            ):
                block["_json"] += delta["partial_json"]
        elif kind == "message_delta":
            usage = event.get("usage")
            if isinstance(usage, dict):
                _usage(answer, Fields(usage, f"{where}.usage"))
        elif kind == "error":
            answer.status = _error(event.get("error"), f"{where}.error")
    ordered = []
    for _, block in sorted(blocks.items()):
        if block.get("type") == "tool_use" and block["_json"]:
            try:
                block["input"] = load_json(block["_json"], "tool input")
            except Unmappable:  # cut short mid-JSON: keep the text that arrived
                block["input"] = block["_json"]
        block.pop("_json")
        ordered.append(block)
    answer.text = "\n".join(_block_lines(ordered, "response[]")) or None
    return answer
