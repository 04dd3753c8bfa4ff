"""OpenTelemetry GenAI spans from an OTLP JSON export (``resourceSpans`` → ``scopeSpans`` →
``spans``, attributes as ``{"key", "value": {"stringValue" | "intValue" | …}}`` lists), the
form the OpenTelemetry Collector's file exporter writes, one export request per line.

Both the older (≤ v1.36) and the newer GenAI semantic-convention names are read:
``gen_ai.system`` / ``gen_ai.provider.name``, ``gen_ai.prompt`` and ``gen_ai.completion``
(JSON text, span events, or OpenLLMetry's indexed ``gen_ai.prompt.0.content``) /
``gen_ai.input.messages``, ``gen_ai.output.messages`` and ``gen_ai.system_instructions``,
``gen_ai.usage.prompt_tokens`` / ``gen_ai.usage.input_tokens`` (and completion / output);
plus ``client.address``, ``user_agent.original``, ``tls.client.ja3``, ``user.id`` (or the
deprecated ``enduser.id``), ``session.id`` and ``gen_ai.conversation.id``.

Spans that are not GenAI inference calls (HTTP handlers, database calls, tool executions,
agent wrappers, embeddings) are counted as skipped, by kind. Known gaps: instrumentations
record no API key and no reasoning request; prompt text exists only where content capture
was turned on; a span with no ``gen_ai.tool.definitions`` has an unknown tools count.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from stillwatch.ingest.dialects.base import (
    Dialect,
    MappedRecord,
    Quarantined,
    Unmappable,
    excerpt,
    from_epoch,
    maybe_json,
    pick_account,
    status_from_error_type,
    status_from_http,
    to_float,
    to_int,
    to_text,
    type_name,
)
from stillwatch.ingest.dialects.messages import read_transcript, tool_call_line

INFERENCE_OPERATIONS = {"chat", "text_completion", "generate_content"}
_ENDPOINTS = {("chat", "openai"): "chat.completions", ("chat", "anthropic"): "messages", ("text_completion", "openai"): "completions"}  # fmt: skip
# Attributes read into columns, or deliberately consumed (same fact as one that is).
_USED = {
    "gen_ai.operation.name", "gen_ai.system", "gen_ai.provider.name", "gen_ai.request.model",
    "gen_ai.response.model", "gen_ai.response.id", "gen_ai.input.messages",
    "gen_ai.output.messages", "gen_ai.system_instructions", "gen_ai.prompt", "gen_ai.completion",
    "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens", "gen_ai.usage.reasoning_tokens",
    "gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.total_tokens", "llm.usage.total_tokens",
    "gen_ai.request.max_tokens", "gen_ai.request.temperature", "gen_ai.tool.definitions",
    "gen_ai.conversation.id", "session.id", "client.address", "user_agent.original",
    "tls.client.ja3", "tls.client.ja4", "user.id", "enduser.id", "error.type",
    "http.response.status_code",
}  # fmt: skip
_INDEXED = ("gen_ai.prompt.", "gen_ai.completion.", "llm.request.functions.")


def any_value(value: Any, path: str, depth: int = 0) -> Any:
    """An OTLP JSON ``AnyValue`` as a Python value."""
    if not isinstance(value, dict):
        raise Unmappable(f"{path}: expected an AnyValue object, got {type_name(value)}")
    if depth > 16:
        raise Unmappable(f"{path}: nested too deep")
    if "stringValue" in value:
        return value["stringValue"]
    if "boolValue" in value:
        return value["boolValue"]
    if "intValue" in value:
        return to_int(value["intValue"], path, count=False)
    if "doubleValue" in value:
        return to_float(value["doubleValue"], path)
    if "arrayValue" in value:
        array = value["arrayValue"]
        items = array.get("values") if isinstance(array, dict) else None
        if not isinstance(items, list | None):
            raise Unmappable(f"{path}.arrayValue.values: expected an array")
        items = items or []
        return [any_value(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(items)]
    if "kvlistValue" in value:
        kvlist = value["kvlistValue"]
        return attributes(
            (kvlist.get("values") if isinstance(kvlist, dict) else None) or [], path, depth + 1
        )
    if "bytesValue" in value:
        return value["bytesValue"]
    return None  # an empty AnyValue is an unset value


def attributes(raw: Any, path: str, depth: int = 0) -> dict[str, Any]:
    """An attribute list (or an already flat object) as a dict."""
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, list):
        raise Unmappable(f"{path}: expected an attribute list, got {type_name(raw)}")
    out: dict[str, Any] = {}
    for i, kv in enumerate(raw):
        if not isinstance(kv, dict) or not isinstance(kv.get("key"), str):
            raise Unmappable(f"{path}[{i}]: expected {{key, value}}, got {excerpt(kv)}")
        out[kv["key"]] = any_value(kv.get("value", {}), f"{path}[{i}].value", depth)
    return out


def _spans(obj: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(place, resource attributes, span) for every span of an export, or a lone span."""
    if "resourceSpans" not in obj:
        yield "span", {}, obj
        return
    resource_spans = obj["resourceSpans"]
    if not isinstance(resource_spans, list):
        raise Unmappable(f"resourceSpans: expected an array, got {type_name(resource_spans)}")
    for r, rs in enumerate(resource_spans):
        if not isinstance(rs, dict):
            raise Unmappable(f"resourceSpans[{r}]: expected an object")
        resource = rs.get("resource") or {}
        res_attrs = (
            attributes(resource.get("attributes") or [], f"resourceSpans[{r}].resource.attributes")
            if isinstance(resource, dict)
            else {}
        )
        scopes = rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans")
        if not isinstance(scopes, list | None):
            raise Unmappable(
                f"resourceSpans[{r}].scopeSpans: expected an array, got {type_name(scopes)}"
            )
        for s, ss in enumerate(scopes or []):
            if not isinstance(ss, dict):
                raise Unmappable(f"resourceSpans[{r}].scopeSpans[{s}]: expected an object")
            spans = ss.get("spans")
            if not isinstance(spans, list | None):
                raise Unmappable(f"resourceSpans[{r}].scopeSpans[{s}].spans: expected an array")
            for i, span in enumerate(spans or []):
                yield f"resourceSpans[{r}].scopeSpans[{s}].spans[{i}]", res_attrs, span


def _is_genai(attrs: dict[str, Any]) -> bool:
    return any(k.startswith("gen_ai.") for k in attrs)


def _indexed(attrs: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """OpenLLMetry's flattened messages: ``gen_ai.prompt.0.role``, ``gen_ai.prompt.0.content``."""
    found: dict[int, dict[str, Any]] = {}
    for key, value in attrs.items():
        if key.startswith(prefix):
            index, _, field = key[len(prefix) :].partition(".")
            if index.isdigit() and field:
                found.setdefault(int(index), {})[field] = value
    return [found[i] for i in sorted(found)]


def _messages(value: Any, path: str) -> list[Any] | None:
    """Messages given as JSON (text or array), new-style ``parts`` turned into ``content``;
    plain text is one user message."""
    value = maybe_json(value, path)
    if value is None:
        return None
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if isinstance(value, dict):
        value = value.get("messages", [value])
    if not isinstance(value, list):
        raise Unmappable(f"{path}: expected messages, got {type_name(value)}")
    out = []
    for m in value:
        if isinstance(m, dict) and "parts" in m and "content" not in m:
            m = {**m, "content": m["parts"]}
        out.append(m)
    return out


def _answer_text(messages: list[Any], path: str) -> str | None:
    lines: list[str] = []
    for i, m in enumerate(messages):
        if isinstance(m, dict) and isinstance(m.get("message"), dict):  # {"message": {...}} choices
            m = m["message"]
        if isinstance(m, str):
            lines.append(m)
            continue
        if not isinstance(m, dict) or m.get("role", "assistant") != "assistant":
            continue
        content = m.get("content")
        parts = content if isinstance(content, list) else [content]
        for j, part in enumerate(parts):
            if isinstance(part, str):
                lines.append(part)
            elif isinstance(part, dict):
                kind = part.get("type", "text")
                if kind == "text":
                    text = part.get("content", part.get("text"))
                    if not isinstance(text, str):
                        raise Unmappable(f"{path}[{i}].content[{j}]: expected text")
                    lines.append(text)
                elif kind == "tool_call":
                    lines.append(tool_call_line(part.get("name"), part.get("arguments", {})))
        for call in m.get("tool_calls") or []:
            if isinstance(call, dict) and isinstance(call.get("function"), dict):
                lines.append(
                    tool_call_line(call["function"].get("name"), call["function"].get("arguments"))
                )
    return "\n".join(lines) if lines else None


class OtelGenAI(Dialect):
    name = "otel-genai"
    setting = "otel_genai_account_from"
    account_choices = ("user", "service")
    account_prefixed = ("attribute",)
    default_account = "user"
    sources: ClassVar[dict[str, str]] = {"event_id": "gen_ai.response.id and spanId", "ts": "startTimeUnixNano", "model": "gen_ai.request.model and gen_ai.response.model"}  # fmt: skip

    def _score(self, obj: dict[str, Any]) -> float:
        spans = obj.get("resourceSpans")
        if isinstance(spans, list):
            text = str(obj)[:20000]
            return 1.0 if "gen_ai." in text else 0.7
        if "spanId" in obj and "attributes" in obj:
            return 0.8
        return 0.0

    def _map(self, obj: dict[str, Any]) -> MappedRecord:
        mapped = MappedRecord()
        for place, res_attrs, span in _spans(obj):
            try:
                self._span(mapped, span, res_attrs, place)
            except Unmappable as exc:
                name = span.get("name") if isinstance(span, dict) else None
                where = f"{place} ({name})" if isinstance(name, str) else place
                mapped.quarantined.append(Quarantined(exc.reason, where[:200]))
        return mapped

    def _span(self, mapped: MappedRecord, span: Any, res_attrs: dict[str, Any], place: str) -> None:
        if not isinstance(span, dict):
            raise Unmappable(f"expected a span object, got {type_name(span)}")
        attrs = attributes(span.get("attributes") or [], "attributes")
        events = span.get("events") or []
        if not isinstance(events, list):
            raise Unmappable(f"span events: expected a list, got {type_name(events)}")
        for event in events:  # v1.26–1.27: content as span events
            if isinstance(event, dict) and event.get("name") in (
                "gen_ai.content.prompt",
                "gen_ai.content.completion",
            ):
                for key, value in attributes(
                    event.get("attributes") or [], "events.attributes"
                ).items():
                    attrs.setdefault(key, value)
        if not _is_genai(attrs):
            mapped.skip("span is not a GenAI call")
            return
        operation = to_text(attrs.get("gen_ai.operation.name"), "gen_ai.operation.name")
        if operation is not None and operation not in INFERENCE_OPERATIONS:
            mapped.skip(f"GenAI {operation} span, not an inference call")
            return
        provider = to_text(
            attrs.get("gen_ai.provider.name") or attrs.get("gen_ai.system"), "gen_ai.provider.name"
        )

        def text(key: str, ident: bool = True) -> str | None:
            return to_text(attrs.get(key), key, ident)

        def count(*keys: str) -> int | None:
            for key in keys:
                value = to_int(attrs.get(key), key)
                if value is not None:
                    return value
            return None

        start = from_epoch(span.get("startTimeUnixNano"), "startTimeUnixNano", "ns")
        end = to_int(span.get("endTimeUnixNano"), "endTimeUnixNano")
        start_ns = to_int(span.get("startTimeUnixNano"), "startTimeUnixNano")
        span_id = to_text(span.get("spanId"), "spanId")
        trace_id = to_text(span.get("traceId"), "traceId")
        event_id = text("gen_ai.response.id") or (f"{trace_id}-{span_id}" if span_id else None)

        inputs = _messages(attrs.get("gen_ai.input.messages"), "gen_ai.input.messages")
        if inputs is None:
            inputs = (
                _messages(attrs.get("gen_ai.prompt"), "gen_ai.prompt")
                or _indexed(attrs, "gen_ai.prompt.")
                or None
            )
        system_parts = _messages(
            attrs.get("gen_ai.system_instructions"), "gen_ai.system_instructions"
        )
        system_text = None
        if system_parts:
            texts = [p.get("content") if isinstance(p, dict) else p for p in system_parts]
            system_text = "\n".join(t for t in texts if isinstance(t, str)) or None
        transcript = read_transcript(inputs or [], "gen_ai.input.messages", [system_text or ""])
        outputs = _messages(attrs.get("gen_ai.output.messages"), "gen_ai.output.messages")
        if outputs is None:
            completion = maybe_json(attrs.get("gen_ai.completion"), "gen_ai.completion")
            if isinstance(completion, str):
                outputs = [{"role": "assistant", "content": completion}]
            else:
                outputs = _messages(completion, "gen_ai.completion") or _indexed(
                    attrs, "gen_ai.completion."
                )
        tools = maybe_json(attrs.get("gen_ai.tool.definitions"), "gen_ai.tool.definitions")
        functions = _indexed(attrs, "llm.request.functions.")
        tools_count = (
            len(tools) if isinstance(tools, list) else (len(functions) if functions else None)
        )

        raw_status = span.get("status")
        status_obj: dict[str, Any] = raw_status if isinstance(raw_status, dict) else {}
        code = status_obj.get("code")
        error_type = text("error.type")
        http_code = to_int(attrs.get("http.response.status_code"), "http.response.status_code")
        if code in (2, "STATUS_CODE_ERROR") or error_type:
            if error_type and error_type.isdigit():
                status = status_from_http(int(error_type))
            else:
                status = status_from_http(http_code) if http_code and http_code >= 400 else None
                status = status or status_from_error_type(error_type) or "error"
        else:
            status = "ok"
        user = text("user.id") or text("enduser.id")
        row = {
            "event_id": event_id,
            "ts": start,
            "end_user_id": user,
            "conversation_id": text("gen_ai.conversation.id") or text("session.id"),
            "turn_index": transcript.turn_index if inputs else None,
            "ip": text("client.address"),
            "user_agent": text("user_agent.original"),
            "tls_fingerprint": text("tls.client.ja3") or text("tls.client.ja4"),
            "model": text("gen_ai.request.model") or text("gen_ai.response.model"),
            "endpoint": _ENDPOINTS.get((operation or "chat", provider or ""), operation),
            "system_prompt": transcript.system,
            "prompt": transcript.prompt,
            "response": _answer_text(outputs or [], "gen_ai.output.messages"),
            "input_tokens": count("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
            "output_tokens": count("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"),
            "reasoning_tokens": count(
                "gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens"
            ),
            "max_tokens": count("gen_ai.request.max_tokens"),
            "temperature": to_float(
                attrs.get("gen_ai.request.temperature"), "gen_ai.request.temperature"
            ),
            "tools_count": tools_count,
            "status": status,
            "latency_ms": (end - start_ns) // 1_000_000
            if end is not None and start_ns is not None and end >= start_ns
            else None,
        }
        used_resource: set[str] = set()

        def account(choice: str) -> tuple[str, str | None]:
            if choice == "user":
                return "user.id", user
            if choice == "service":
                used_resource.add("service.name")
                return "resource service.name", to_text(
                    res_attrs.get("service.name"), "service.name"
                )
            key = choice.split(":", 1)[1]
            if key in attrs:
                return f"attribute {key}", to_text(attrs.get(key), key)
            used_resource.add(key)
            return f"attribute {key}", to_text(res_attrs.get(key), key)

        row["account_id"] = pick_account(self.account_order, account)
        if row["account_id"] == user:  # user.id is the account here, not an end user of it
            row["end_user_id"] = None
        mapped.exchanges.append(self.finish(row))
        taken = {c.split(":", 1)[1] for c in self.account_order if c.startswith("attribute:")}
        mapped.note_unmapped(
            f"attributes.{k}"
            for k in attrs
            if k not in _USED and k not in taken and not k.startswith(_INDEXED)
        )
        mapped.note_unmapped(f"resource.{k}" for k in res_attrs if k not in used_resource)
