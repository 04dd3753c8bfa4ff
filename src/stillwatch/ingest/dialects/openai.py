"""OpenAI Chat Completions and Responses exchanges inside stillwatch's gateway envelope.

Maps the request body (model, messages or input/instructions, max tokens, temperature, tools,
reasoning effort, ``safety_identifier`` / deprecated ``user``), the response body or its
streamed chunks/events (answer text, tool calls, usage with reasoning tokens, errors) and the
envelope (account, key, client address, user agent, TLS fingerprint, time, status, latency).

Known gaps: ``prompt_cache_key`` is a cache bucket (often one per prompt template, or shared by
many users), not an identity, so it is reported as unmapped rather than taken as an end user;
a Responses request continued with ``previous_response_id`` carries only its new items, so its
turn index counts only those; the resolved model snapshot in the response is not kept (the
canonical ``model`` is the one asked for).
"""

from __future__ import annotations

from typing import Any, ClassVar

from stillwatch.ingest.dialects.base import (
    Dialect,
    Fields,
    MappedRecord,
    Unmappable,
    from_epoch,
    items_of,
    status_from_error_type,
    type_name,
)
from stillwatch.ingest.dialects.envelope import Envelope, looks_like_envelope, read_envelope
from stillwatch.ingest.dialects.messages import (
    Answer,
    content_text,
    read_transcript,
    sse_events,
    tool_call_line,
)

CHAT, RESPONSES = "chat.completions", "responses"
_PATHS = {"/v1/chat/completions": CHAT, "/chat/completions": CHAT, "/v1/responses": RESPONSES, "/responses": RESPONSES}  # fmt: skip


def endpoint_kind(env: Envelope) -> str | None:
    """chat.completions or responses, from the path or else from the bodies' shapes."""
    if env.endpoint:
        path = env.endpoint.split("?")[0].rstrip("/")
        if path in _PATHS:
            return _PATHS[path]
        if path.endswith("/messages"):
            return None
    body = env.request.obj
    if "messages" in body and "input" not in body:
        return CHAT
    if "input" in body or "instructions" in body:
        return RESPONSES
    return None


def thinking_of(effort: Any, path: str) -> bool | None:
    """reasoning effort: ``none`` asks for no reasoning; any other level asks for it."""
    if effort is None:
        return None
    if not isinstance(effort, str):
        raise Unmappable(f"{path}: expected text, got {type_name(effort)}")
    return effort != "none"


class OpenAI(Dialect):
    name = "openai"
    setting = "openai_account_from"
    account_choices = ("account", "project", "key", "end_user")
    default_account = "account"
    sources: ClassVar[dict[str, str]] = {"event_id": "request_id and response id", "ts": "time and response created", "model": "request.model"}  # fmt: skip

    def _score(self, obj: dict[str, Any]) -> float:
        if not looks_like_envelope(obj):
            return 0.0
        endpoint = str(obj.get("endpoint") or "")
        if "chat/completions" in endpoint or endpoint.rstrip("/").endswith("/responses"):
            return 1.0
        if endpoint.rstrip("/").endswith("/messages"):
            return 0.0
        body = obj["request"]
        response = obj.get("response")
        if isinstance(response, dict) and response.get("object") in ("chat.completion", "response"):
            return 0.95
        if "input" in body or "safety_identifier" in body or "max_completion_tokens" in body:
            return 0.9
        if "messages" in body and "system" not in body and "max_tokens" not in body:
            return 0.6
        return 0.2

    def _map(self, obj: dict[str, Any]) -> MappedRecord:
        env = read_envelope(obj)
        kind = endpoint_kind(env)
        if kind is None:
            raise Unmappable(
                f"not an OpenAI Chat Completions or Responses exchange (endpoint {env.endpoint!r})"
            )
        req = env.request
        row = env.base_row()
        row.update(request_columns(req, kind))
        if not row["conversation_id"]:
            row["conversation_id"] = row.pop("_conversation", None)
        row.pop("_conversation", None)

        answer = chat_answer(env.response) if kind == CHAT else responses_answer(env.response)
        return env.mapped(row, answer, self, "request.safety_identifier or request.user")


def request_columns(req: Fields, kind: str) -> dict[str, Any]:
    """Columns from a Chat Completions or Responses request body. ``_conversation`` holds the
    Responses ``conversation`` id, for the caller to use where it has no better one."""
    row: dict[str, Any] = {"endpoint": kind, "model": req.text("model")}
    row["end_user_id"] = req.text("safety_identifier") or req.text("user")
    row["temperature"] = req.number("temperature")
    tools = req.array("tools")
    functions = req.array("functions") if kind == CHAT else None
    row["tools_count"] = len(tools or []) + len(functions or [])
    req.use("stream", "stream_options")
    if kind == CHAT:
        transcript = read_transcript(req.array("messages") or [], f"{req.path}.messages")
        limit = req.integer("max_completion_tokens")
        row["max_tokens"] = limit if limit is not None else req.integer("max_tokens")
        row["thinking"] = thinking_of(req.raw("reasoning_effort"), f"{req.path}.reasoning_effort")
    else:
        instructions = req.text("instructions", ident=False)
        items = req.json("input")
        if isinstance(items, str):
            items = [{"role": "user", "content": items}]
        if items is not None and not isinstance(items, list):
            raise Unmappable(f"{req.path}.input: expected text or an array, got {type_name(items)}")
        transcript = read_transcript(items or [], f"{req.path}.input", [instructions or ""])
        row["max_tokens"] = req.integer("max_output_tokens")
        reasoning = req.sub("reasoning")
        row["thinking"] = (
            thinking_of(reasoning.raw("effort"), f"{reasoning.path}.effort") if reasoning else None
        )
        conversation = req.raw("conversation")
        if isinstance(conversation, dict):
            conversation = conversation.get("id")
        row["_conversation"] = conversation if isinstance(conversation, str) else None
    row["system_prompt"] = transcript.system
    row["prompt"] = transcript.prompt
    row["turn_index"] = transcript.turn_index
    return row


def _join(parts: list[str]) -> str | None:
    return "\n".join(parts) if parts else None


def _error_status(error: Any, path: str) -> str:
    if isinstance(error, dict):
        kind = error.get("type") or error.get("code")
        if isinstance(kind, str):
            return status_from_error_type(kind) or "error"
    if error is not None and not isinstance(error, str | dict):
        raise Unmappable(f"{path}: expected an object, got {type_name(error)}")
    return "error"


def _chat_usage(answer: Answer, usage: Fields | None) -> None:
    if usage is None:
        return
    answer.input_tokens = usage.integer("prompt_tokens")
    answer.output_tokens = usage.integer("completion_tokens")
    usage.use("total_tokens")
    details = usage.sub("completion_tokens_details")
    if details is not None:
        answer.reasoning_tokens = details.integer("reasoning_tokens")


def chat_answer(response: Any) -> Answer:
    answer = Answer()
    if response is None:
        return answer
    if isinstance(response, list | str):
        return _chat_stream(response, answer)
    if not isinstance(response, dict):
        raise Unmappable(
            f"response: expected an object or a list of chunks, got {type_name(response)}"
        )
    r = Fields(response, "response")
    if r.has("error"):
        answer.status = _error_status(r.raw("error"), "response.error")
        answer.unmapped = r.unmapped()
        return answer
    answer.response_id = r.text("id")
    created = r.raw("created")
    answer.created = from_epoch(created, "response.created", "s") if created is not None else None
    r.use("object")
    texts: list[str] = []
    for i, choice in enumerate(r.array("choices") or []):
        if not isinstance(choice, dict):
            raise Unmappable(f"response.choices[{i}]: expected an object, got {type_name(choice)}")
        if i > 0:  # n > 1: only the first answer is kept
            answer.unmapped.append("response.choices[1:]")
            break
        c = Fields(choice, f"response.choices[{i}]")
        c.use("index")
        message = c.sub("message")
        if message is not None:
            text = content_text(message.raw("content"), f"{message.path}.content")
            refusal = message.text("refusal", ident=False)
            texts.extend(t for t in (text, refusal) if t)
            for j, call in enumerate(message.array("tool_calls") or []):
                function = call.get("function") if isinstance(call, dict) else None
                if not isinstance(function, dict):
                    raise Unmappable(f"{message.path}.tool_calls[{j}]: expected a function call")
                texts.append(tool_call_line(function.get("name"), function.get("arguments")))
            message.use("role", "annotations")
        answer.unmapped.extend(c.unmapped())
    answer.text = _join(texts)
    _chat_usage(answer, r.sub("usage"))
    answer.status = "ok"
    answer.unmapped.extend(r.unmapped())
    return answer


_CHUNK_KEYS = {"id", "object", "created", "model", "choices", "usage", "system_fingerprint", "service_tier", "obfuscation"}  # fmt: skip


def _chat_stream(stream: Any, answer: Answer) -> Answer:
    events = sse_events(stream, "response")
    texts: list[str] = []
    calls: dict[int, list[str]] = {}
    unknown: set[str] = set()
    answer.status = "ok"
    for i, chunk in enumerate(events):
        where = f"response[{i}]"
        if "error" in chunk:
            answer.status = _error_status(chunk["error"], f"{where}.error")
            continue
        unknown.update(k for k in chunk if k not in _CHUNK_KEYS)
        if answer.response_id is None and isinstance(chunk.get("id"), str):
            answer.response_id = chunk["id"]
        if answer.created is None and chunk.get("created") is not None:
            answer.created = from_epoch(chunk["created"], f"{where}.created", "s")
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            _chat_usage(answer, Fields(usage, f"{where}.usage"))
        for choice in items_of(chunk.get("choices")):
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            if not isinstance(delta, dict):
                continue
            piece = delta.get("content")
            if isinstance(piece, str):
                texts.append(piece)
            for call in items_of(delta.get("tool_calls")):
                if not isinstance(call, dict):
                    continue
                index = call.get("index", 0)
                raw_function = call.get("function")
                function: dict[str, Any] = raw_function if isinstance(raw_function, dict) else {}
                slot = calls.setdefault(index if isinstance(index, int) else 0, ["", ""])
                if isinstance(function.get("name"), str):
                    slot[0] += function["name"]
                if isinstance(function.get("arguments"), str):
                    slot[1] += function["arguments"]
    joined = "".join(texts)
    lines = [joined] if joined else []
    lines += [tool_call_line(n, a) for _, (n, a) in sorted(calls.items())]
    answer.text = _join(lines)
    answer.unmapped = sorted(f"response[].{k}" for k in unknown)
    return answer


def _responses_output(answer: Answer, r: Fields) -> None:
    texts: list[str] = []
    for i, item in enumerate(r.array("output") or []):
        if not isinstance(item, dict):
            raise Unmappable(f"response.output[{i}]: expected an object, got {type_name(item)}")
        kind = item.get("type")
        if kind == "message":
            text = content_text(item.get("content"), f"response.output[{i}].content")
            if text:
                texts.append(text)
            for part in item.get("content") or []:
                if isinstance(part, dict) and part.get("type") == "refusal":
                    refusal = part.get("refusal")
                    if isinstance(refusal, str):
                        texts.append(refusal)
        elif kind in ("function_call", "custom_tool_call"):
            texts.append(tool_call_line(item.get("name"), item.get("arguments", item.get("input"))))
    answer.text = _join(texts)
    usage = r.sub("usage")
    if usage is not None:
        answer.input_tokens = usage.integer("input_tokens")
        answer.output_tokens = usage.integer("output_tokens")
        usage.use("total_tokens")
        details = usage.sub("output_tokens_details")
        if details is not None:
            answer.reasoning_tokens = details.integer("reasoning_tokens")


def responses_answer(response: Any) -> Answer:
    answer = Answer()
    if response is None:
        return answer
    if isinstance(response, list | str):
        events = sse_events(response, "response")
        final = next(
            (
                e["response"]
                for e in reversed(events)
                if e.get("type") in ("response.completed", "response.failed", "response.incomplete")
                and isinstance(e.get("response"), dict)
            ),
            None,
        )
        if final is None:  # cut short: the deltas are all there is
            deltas = [
                e["delta"]
                for e in events
                if e.get("type") == "response.output_text.delta" and isinstance(e.get("delta"), str)
            ]
            answer.text = "".join(deltas) or None
            errors = [e for e in events if e.get("type") == "error"]
            answer.status = _error_status(errors[-1], "response[]") if errors else None
            return answer
        response = final
    if not isinstance(response, dict):
        raise Unmappable(f"response: expected an object, got {type_name(response)}")
    r = Fields(response, "response")
    if r.has("error") and r.obj.get("object") != "response":
        answer.status = _error_status(r.raw("error"), "response.error")
        answer.unmapped = r.unmapped()
        return answer
    answer.response_id = r.text("id")
    created = r.raw("created_at")
    answer.created = (
        from_epoch(created, "response.created_at", "s") if created is not None else None
    )
    r.use("object", "model")
    state = r.text("status")
    error = r.raw("error")
    if state == "failed" or error:
        answer.status = _error_status(error, "response.error")
    else:
        answer.status = "ok"
    _responses_output(answer, r)
    # The response echoes the request's parameters: the request's own copy is what is mapped.
    r.use(
        *(k for k in r.obj if k not in ("output", "usage", "error", "status", "id", "created_at"))
    )
    answer.unmapped = r.unmapped()
    return answer
