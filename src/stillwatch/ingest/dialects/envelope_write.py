"""Writing stillwatch's gateway envelope (see ``envelope.py``) around OpenAI or Anthropic bodies:
what the OpenAI and Anthropic writers share."""

from __future__ import annotations

from typing import Any

from stillwatch.ingest.dialects.write import Row, Writer, drop_none, http_status, iso

# the canonical columns a round trip through the envelope and a provider's bodies keeps
ENVELOPE_CARRIES = frozenset(
    {
        "event_id", "ts", "account_id", "api_key_id", "end_user_id", "conversation_id",
        "turn_index", "ip", "ip_hash", "asn", "ip_country", "user_agent", "tls_fingerprint",
        "model", "endpoint", "system_prompt", "prompt", "response", "input_tokens",
        "output_tokens", "max_tokens", "temperature", "tools_count", "thinking", "status",
        "latency_ms",
    }
)  # fmt: skip


class EnvelopeWriter(Writer):
    """A writer of one envelope per exchange; with ``stream`` the response is written as the
    chunks or events a streamed call returns."""

    carries = ENVELOPE_CARRIES

    def __init__(self, stream: bool = False) -> None:
        super().__init__()
        self.stream = stream

    def envelope(
        self, row: Row, path: str, request: dict[str, Any], response: Any
    ) -> dict[str, Any]:
        """The envelope of ``row``'s exchange sent to ``path`` (the request marked streamed
        when the writer streams)."""
        if self.stream:
            request["stream"] = True
        status = row.get("status") or "ok"
        return drop_none(
            {
                "request_id": row.get("event_id"),
                "time": iso(row.get("ts")),
                "account_id": row.get("account_id"),
                "api_key_id": row.get("api_key_id"),
                "ip": row.get("ip"),
                "ip_hash": row.get("ip_hash"),
                "asn": row.get("asn"),
                "ip_country": row.get("ip_country"),
                "user_agent": row.get("user_agent"),
                "tls_fingerprint": row.get("tls_fingerprint"),
                "session_id": row.get("conversation_id"),
                "endpoint": path,
                "http_status": http_status(status),
                "latency_ms": row.get("latency_ms"),
                "request": request,
                "response": response,
            }
        )
