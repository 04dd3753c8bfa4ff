"""stillwatch's gateway envelope: the fields a provider's API gateway knows about a request
that the request and response bodies do not carry (who called, with which key, from where,
when), wrapped around the OpenAI or Anthropic bodies as they were sent and returned.

One JSON object per exchange (JSON Lines); every field but ``request`` is optional for the
format, though ``time`` and one source of ``account_id`` are needed for a row::

    {"request_id": "req_01HX…", "time": "2026-04-22T13:05:09.123Z",
     "account_id": "org-7Q…", "project_id": "proj_…", "api_key_id": "key_…",
     "ip": "203.0.113.7", "user_agent": "OpenAI/Python 1.82.0", "tls_fingerprint": "t13d…",
     "session_id": null, "endpoint": "/v1/chat/completions", "http_status": 200,
     "latency_ms": 2140, "request": {…body…}, "response": {…body…} or [chunk, …]}

``docs/formats.md`` lists each field's meaning and canonical column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stillwatch.ingest.dialects.base import (
    Dialect,
    Fields,
    MappedRecord,
    Unmappable,
    from_epoch,
    from_text_time,
    pick_account,
    status_from_http,
)
from stillwatch.ingest.dialects.messages import Answer

# field -> (canonical column it fills, meaning)
FIELDS: dict[str, tuple[str, str]] = {
    "request_id": ("event_id", "the gateway's id of the request (e.g. the x-request-id it returns); the response body's id is used where absent"),
    "time": ("ts", "when the request arrived at the gateway: RFC 3339 text with zone, or integer epoch milliseconds"),
    "account_id": ("account_id", "the paying account (organization) the key belongs to"),
    "project_id": ("account_id (if chosen)", "the OpenAI project or Anthropic workspace the key belongs to"),
    "api_key_id": ("api_key_id", "the id of the key used (never the secret itself)"),
    "ip": ("ip", "the client address the gateway saw (after trusted proxies), or a truncated CIDR prefix"),
    "ip_hash": ("ip_hash", "keyed hash of the address, where the gateway keeps no address"),
    "asn": ("asn", "autonomous system of the address, where the gateway enriches it"),
    "ip_country": ("ip_country", "ISO 3166-1 alpha-2 country of the address"),
    "user_agent": ("user_agent", "the HTTP User-Agent header"),
    "tls_fingerprint": ("tls_fingerprint", "JA3 / JA4 fingerprint of the client's TLS hello"),
    "session_id": ("conversation_id", "a session or conversation id the client sent in a header, where the gateway has one"),
    "endpoint": ("endpoint", "the HTTP path: /v1/chat/completions, /v1/responses, /v1/messages"),
    "http_status": ("status", "the HTTP status returned to the client"),
    "latency_ms": ("latency_ms", "milliseconds from request arrival to the last byte of the response"),
    "request": ("(body)", "the request body as the client sent it"),
    "response": ("(body)", "the response body; for a streamed response, the list of chunks or events in order (objects, or raw `data: …` SSE lines)"),
}  # fmt: skip


@dataclass
class Envelope:
    fields: Fields
    request: Fields
    response: Any
    request_id: str | None
    time: str | None
    endpoint: str | None
    http_status: int | None

    def base_row(self) -> dict[str, Any]:
        """The canonical columns the envelope itself fills (not account_id: see the adapter)."""
        f = self.fields
        return {
            "event_id": self.request_id,
            "ts": self.time,
            "api_key_id": f.text("api_key_id"),
            "ip": f.text("ip"),
            "ip_hash": f.text("ip_hash"),
            "asn": f.integer("asn"),
            "ip_country": f.text("ip_country"),
            "user_agent": f.text("user_agent"),
            "tls_fingerprint": f.text("tls_fingerprint"),
            "conversation_id": f.text("session_id"),
            "latency_ms": f.integer("latency_ms"),
            "status": status_from_http(self.http_status),
        }

    def account(
        self, choice: str, end_user: str | None, end_user_source: str
    ) -> tuple[str, str | None]:
        """Where the account_id ``choice`` (account, project, key, end_user) comes from, and its
        value; the end user is the request body's, found at ``end_user_source``."""
        f = self.fields
        if choice == "account":
            return "account_id", f.text("account_id")
        if choice == "project":
            return "project_id", f.text("project_id")
        if choice == "key":
            return "api_key_id", f.text("api_key_id")
        return end_user_source, end_user

    def mapped(
        self, row: dict[str, Any], answer: Answer, dialect: Dialect, end_user_source: str
    ) -> MappedRecord:
        """The exchange of ``row`` (the envelope's and the request's columns) completed by the
        response's ``answer``: its id and time where the envelope has none, its text and token
        counts, its status where the HTTP status says nothing or only ok, and the account_id
        ``dialect``'s setting chooses (see ``account``)."""
        if answer.response_id and not row["event_id"]:
            row["event_id"] = answer.response_id
        if answer.created and not row["ts"]:
            row["ts"] = answer.created
        row["response"] = answer.text
        row["input_tokens"] = answer.input_tokens
        row["output_tokens"] = answer.output_tokens
        row["reasoning_tokens"] = answer.reasoning_tokens
        if row["status"] is None or (row["status"] == "ok" and answer.status not in (None, "ok")):
            row["status"] = answer.status
        end_user = row["end_user_id"]
        row["account_id"] = pick_account(
            dialect.account_order, lambda c: self.account(c, end_user, end_user_source)
        )
        mapped = MappedRecord(exchanges=[dialect.finish(row)])
        mapped.note_unmapped(self.fields.unmapped())
        mapped.note_unmapped(answer.unmapped)
        return mapped


def looks_like_envelope(obj: Any) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("request"), dict)


def read_envelope(obj: dict[str, Any]) -> Envelope:
    f = Fields(obj)
    request = f.sub("request")
    if request is None:
        raise Unmappable("no request body: the envelope's request field is missing or empty")
    time_value = f.raw("time")
    time = (
        from_epoch(time_value, "time", "ms")
        if isinstance(time_value, int) and not isinstance(time_value, bool)
        else from_text_time(time_value, "time", naive_is_utc=False)
    )
    f.use("response")
    return Envelope(
        fields=f,
        request=request,
        response=obj.get("response"),
        request_id=f.text("request_id"),
        time=time,
        endpoint=f.text("endpoint"),
        http_status=f.integer("http_status"),
    )
