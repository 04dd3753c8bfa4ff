"""Chat transcripts as the formats log them, read the same way everywhere: the system text,
the latest user turn, how many model replies came before it (the turn index), the answer's
text. OpenAI Chat Completions and Responses items, Anthropic content blocks and OpenTelemetry
GenAI ``parts`` all reduce to these.

Known limits: images, audio and files are not text and are left out of ``prompt``; a tool call
in an answer is kept as one line ``[tool call] name(arguments)`` so that agentic answers are not
empty; tool results sent back as user turns are not a new user prompt.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from stillwatch.ingest.dialects.base import Unmappable, load_json, type_name

TEXT_PART_TYPES = {"text", "input_text", "output_text"}
# Items of the model's side of a transcript that are not plain messages (OpenAI Responses).
ASSISTANT_ITEMS = {
    "function_call", "reasoning", "web_search_call", "file_search_call", "computer_call",
    "code_interpreter_call", "image_generation_call", "local_shell_call", "mcp_call",
    "custom_tool_call", "tool_call",
}  # fmt: skip
SYSTEM_ROLES = {"system", "developer"}


def part_text(part: Any, path: str) -> str | None:
    """Text of one content part: a string, ``{"type": "text", "text": …}`` (OpenAI, Anthropic)
    or ``{"type": "text", "content": …}`` (OpenTelemetry GenAI parts); None for other kinds."""
    if isinstance(part, str):
        return part
    if not isinstance(part, dict):
        return None
    kind = part.get("type", "text")
    if not isinstance(kind, str) or kind not in TEXT_PART_TYPES:
        return None
    value = part.get("text", part.get("content"))
    if value is None:
        return None
    if not isinstance(value, str):
        raise Unmappable(f"{path}.text: expected text, got {type_name(value)}")
    return value


def content_text(content: Any, path: str) -> str | None:
    """A message's content as text: a string, or the text parts of a list joined by newlines."""
    if content is None:
        return None
    if isinstance(content, str):
        return content or None  # an empty text is no text
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        raise Unmappable(f"{path}: expected text or an array of parts, got {type_name(content)}")
    texts = [t for i, p in enumerate(content) if (t := part_text(p, f"{path}[{i}]"))]
    return "\n".join(texts) if texts else None


def tool_call_line(name: Any, arguments: Any) -> str:
    args = arguments if isinstance(arguments, str) else json.dumps(arguments, sort_keys=True)
    return f"[tool call] {name if isinstance(name, str) else '?'}({args})"


class Answer:
    """What a response body (or its stream) says: id, creation time, text, token counts, status
    and the fields left unread. Anthropic never reports reasoning tokens or a creation time
    apart, so there they stay None."""

    def __init__(self) -> None:
        self.response_id: str | None = None
        self.created: str | None = None
        self.text: str | None = None
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.reasoning_tokens: int | None = None
        self.status: str | None = None
        self.unmapped: list[str] = []


@dataclass
class Transcript:
    system: str | None = None
    prompt: str | None = None
    turn_index: int | None = None


def _role(item: dict[str, Any], path: str) -> str | None:
    role = item.get("role")
    if role is not None and not isinstance(role, str):
        raise Unmappable(f"{path}.role: expected text, got {type_name(role)}")
    return role


def read_transcript(
    items: Iterable[Any], path: str, system_parts: list[str] | None = None
) -> Transcript:
    """The system text (system and developer messages, after ``system_parts`` given outside
    the list), the latest user text, and the turn index: how many runs of model-side items
    (assistant messages, tool calls) precede the end of the list, i.e. how many earlier
    exchanges of the conversation this request carries."""
    systems = [s for s in system_parts or [] if s]
    prompt: str | None = None
    turns = 0
    in_run = False
    for i, item in enumerate(items):
        where = f"{path}[{i}]"
        if isinstance(item, str):  # a bare string item is user text (Responses input list)
            prompt, in_run = item or prompt, False
            continue
        if not isinstance(item, dict):
            raise Unmappable(f"{where}: expected an object, got {type_name(item)}")
        role = _role(item, where)
        kind = item.get("type") if isinstance(item.get("type"), str) else None
        model_side = role == "assistant" or (role is None and kind in ASSISTANT_ITEMS)
        if model_side:
            turns += 0 if in_run else 1
            in_run = True
            continue
        in_run = False
        if role in SYSTEM_ROLES:
            text = content_text(item.get("content"), f"{where}.content")
            if text:
                systems.append(text)
        elif role == "user":
            content = item.get("content")
            words = _user_content(content)
            if isinstance(content, list) and content and not words:
                continue  # tool results only: the tool's output, not a user turn
            prompt = content_text(words, f"{where}.content")
    return Transcript("\n\n".join(systems) if systems else None, prompt, turns)


def _user_content(content: Any) -> Any:
    """User content without tool results (Anthropic ``tool_result`` blocks, OTel
    ``tool_call_response`` parts): those are the tool's output, not the user's words."""
    if isinstance(content, list):
        return [
            p
            for p in content
            if not (isinstance(p, dict) and p.get("type") in ("tool_result", "tool_call_response"))
        ]
    return content


def sse_events(stream: Any, path: str) -> list[dict[str, Any]]:
    """A streamed response as its list of event objects. Accepted: a list of objects; a list
    of ``{"event": …, "data": {…}}`` pairs; a list of raw SSE lines (``data: {…}``); or the raw
    SSE text as one string. ``[DONE]`` markers and comments are dropped."""
    if isinstance(stream, str):
        stream = stream.splitlines()
    if not isinstance(stream, list):
        raise Unmappable(f"{path}: expected a list of stream events, got {type_name(stream)}")
    events: list[dict[str, Any]] = []
    for i, item in enumerate(stream):
        where = f"{path}[{i}]"
        if isinstance(item, str):
            for line in item.splitlines():
                line = line.strip()
                if not line.startswith("data:"):
                    continue  # "event: …" names repeat the data's own type; blank lines, comments
                data = line[5:].strip()
                if data and data != "[DONE]":
                    events.append(_event_object(load_json(data, where), where))
            continue
        if (
            isinstance(item, dict)
            and "data" in item
            and "type" not in item
            and "choices" not in item
        ):
            data = item["data"]
            if isinstance(data, str):
                if data.strip() == "[DONE]":
                    continue
                data = load_json(data, where)
            events.append(_event_object(data, where))
            continue
        events.append(_event_object(item, where))
    return events


def _event_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Unmappable(f"{where}: expected a stream event object, got {type_name(value)}")
    return value
