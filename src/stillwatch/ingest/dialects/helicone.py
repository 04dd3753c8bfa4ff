"""Helicone request exports (JSON Lines from ``@helicone/export`` or the request query API):
one object per request with ``request_id``, ``request_created_at``, ``request_user_id`` (the
``Helicone-User-Id`` header), ``request_properties`` (``Helicone-Property-*`` headers),
``request_body`` and ``response_body`` in the provider's format, ``response_status``,
``prompt_tokens`` / ``completion_tokens``, ``delay_ms`` and ``country_code``.

Known gaps: Helicone keeps no client address, user agent or provider key id; an account
other than the user must come from a custom property (``helicone_account_from =
"property:Account"``); bodies are missing unless exported with ``--include-body``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from stillwatch.ingest.dialects import bodies
from stillwatch.ingest.dialects.base import (
    Dialect,
    Fields,
    MappedRecord,
    from_text_time,
    pick_account,
    status_from_http,
    to_text,
)

# Fields that only repeat what is mapped (the bodies again, summed tokens, the delay).
_REDUNDANT = ("total_tokens", "llmSchema", "latency", "provider")


class Helicone(Dialect):
    name = "helicone"
    setting = "helicone_account_from"
    account_choices = ("user", "helicone_user")
    account_prefixed = ("property",)
    default_account = "user"
    sources: ClassVar[dict[str, str]] = {"event_id": "request_id", "ts": "request_created_at", "model": "request_model, model and request_body.model"}  # fmt: skip

    def _score(self, obj: dict[str, Any]) -> float:
        keys = set(obj)
        if {"request_id", "request_created_at"} <= keys and (
            "response_status" in keys or "request_path" in keys
        ):
            return 1.0
        if {"response_id", "response_created_at", "request_created_at"} <= keys:
            return 0.9
        return 0.0

    def _map(self, obj: dict[str, Any]) -> MappedRecord:
        f = Fields(obj)
        row: dict[str, Any] = {
            "event_id": f.text("request_id"),
            "ts": from_text_time(
                f.raw("request_created_at"), "request_created_at", naive_is_utc=True
            ),
            "latency_ms": f.integer("delay_ms"),
            "status": status_from_http(f.integer("response_status")),
        }
        if row["latency_ms"] is None and f.has("latency"):
            row["latency_ms"] = f.integer("latency")
        row["model"] = f.text("request_model") or f.text("model")
        country = f.text("country_code")
        row["ip_country"] = country.upper() if country else None
        path = f.text("request_path")
        user = f.text("request_user_id")
        body_end_user = None
        properties = f.json("request_properties")
        if not isinstance(properties, dict):
            properties = {}
        f.use("properties")  # the same custom properties, in newer exports
        row["input_tokens"] = f.integer("prompt_tokens")
        row["output_tokens"] = f.integer("completion_tokens")
        request = f.sub("request_body")
        kind = None
        if request is not None:
            kind = bodies.request_kind(request.obj, path)
            columns = bodies.request_columns(request, kind)
            row.update({k: v for k, v in columns.items() if k not in ("model", "end_user_id")})
            row["model"] = row["model"] or columns.get("model")
            body_end_user = columns.get("end_user_id")
        else:
            row["endpoint"] = _endpoint(path)
        response = f.json("response_body")
        unmapped: list[str] = []
        if isinstance(response, dict) and response and "helicone_message" not in response:
            answer = bodies.answer(response, kind or "chat.completions")
            row["response"] = answer.text
            row["reasoning_tokens"] = answer.reasoning_tokens
            if row["input_tokens"] is None:
                row["input_tokens"] = answer.input_tokens
            if row["output_tokens"] is None:
                row["output_tokens"] = answer.output_tokens
            if row["status"] in (None, "ok") and answer.status not in (None, "ok"):
                row["status"] = answer.status
            unmapped = answer.unmapped
        f.use(*_REDUNDANT)

        def account(choice: str) -> tuple[str, str | None]:
            if choice == "user":
                return "request_user_id", user
            if choice == "helicone_user":
                return "helicone_user", f.text("helicone_user")
            name = choice.split(":", 1)[1]
            value = properties.get(name, properties.get(f"Helicone-Property-{name}"))
            return f"request_properties.{name}", to_text(value, f"request_properties.{name}")

        row["account_id"] = pick_account(self.account_order, account)
        # The Helicone user is an end user unless it is the account itself.
        row["end_user_id"] = body_end_user or (user if user != row["account_id"] else None)
        session = properties.get("Helicone-Session-Id")
        row["conversation_id"] = to_text(session, "request_properties.Helicone-Session-Id")
        mapped = MappedRecord(exchanges=[self.finish(row)])
        taken = {c.split(":", 1)[1] for c in self.account_order if c.startswith("property:")}
        taken.add("Helicone-Session-Id")
        mapped.note_unmapped(n for n in f.unmapped() if n != "request_properties")
        mapped.note_unmapped(f"request_properties.{k}" for k in properties if k not in taken)
        mapped.note_unmapped(unmapped)
        return mapped


def _endpoint(path: str | None) -> str | None:
    if not path:
        return None
    path = path.split("?")[0].rstrip("/")
    if path.endswith("chat/completions"):
        return "chat.completions"
    if path.endswith("/responses"):
        return "responses"
    if path.endswith("/messages"):
        return "messages"
    return None
