"""Request and response bodies logged by gateways and observability tools (LiteLLM,
Langfuse, Helicone) in whichever provider format the call used: OpenAI Chat Completions,
OpenAI Responses, or Anthropic Messages, told apart by their shapes."""

from __future__ import annotations

from typing import Any

from stillwatch.ingest.dialects import anthropic, openai
from stillwatch.ingest.dialects.base import Fields


def request_kind(body: dict[str, Any], hint: str | None = None) -> str:
    """chat.completions, responses or messages. ``hint`` is an endpoint or call type the log
    names, used first."""
    hint = hint or ""
    if "anthropic" in hint or hint.rstrip("/").endswith("messages"):
        return "messages"
    if "response" in hint and "messages" not in body:
        return openai.RESPONSES
    if "input" in body or "instructions" in body:
        return openai.RESPONSES
    if (
        "system" in body
        or "thinking" in body
        or (isinstance(body.get("metadata"), dict) and "user_id" in body["metadata"])
    ):
        return "messages"
    return openai.CHAT


def request_columns(req: Fields, kind: str) -> dict[str, Any]:
    if kind == "messages":
        return anthropic.request_columns(req)
    row = openai.request_columns(req, kind)
    conversation = row.pop("_conversation", None)
    if conversation:
        row["conversation_id"] = conversation
    return row


def response_kind(body: Any, fallback: str) -> str:
    if isinstance(body, dict):
        if "choices" in body or body.get("object") == "chat.completion":
            return openai.CHAT
        if body.get("object") == "response" or "output" in body:
            return openai.RESPONSES
        if body.get("type") in ("message", "error") and "choices" not in body:
            return "messages"
    return fallback


def answer(body: Any, kind: str) -> Any:
    """The answer of a response body of ``kind``: text, token counts, status, unmapped."""
    kind = response_kind(body, kind)
    if kind == "messages":
        return anthropic.messages_answer(body)
    if kind == openai.RESPONSES:
        return openai.responses_answer(body)
    return openai.chat_answer(body)
