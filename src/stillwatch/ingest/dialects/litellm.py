"""LiteLLM proxy logs: rows of the ``LiteLLM_SpendLogs`` table (exported as CSV or JSON
Lines) and the ``StandardLoggingPayload`` LiteLLM hands to its logging callbacks.

A spend-log row names the caller at every level: ``api_key`` (the hashed virtual key),
``user`` (the internal user owning the key), ``team_id``, ``organization_id``, and
``end_user`` (the customer's own user, from the request's ``user`` parameter), plus
``requester_ip_address``, ``session_id`` and, where prompts are stored, the request body
(``proxy_server_request``, with the caller's headers) and the ``response``. The standard
logging payload carries the same facts with the key's owners under ``metadata``
(``user_api_key_hash``, ``user_api_key_user_id``, ``user_api_key_team_id``,
``user_api_key_org_id``).

Known gaps: without ``store_prompts_in_spend_logs`` a spend log holds no prompt or answer;
``model`` is the deployment LiteLLM routed to, so the model the caller asked for is taken
from ``model_group`` first; times without a zone are UTC (LiteLLM stores them so).
"""

from __future__ import annotations

from typing import Any, ClassVar

from stillwatch.ingest.dialects import bodies
from stillwatch.ingest.dialects.base import (
    Dialect,
    Fields,
    MappedRecord,
    from_epoch,
    from_text_time,
    millis_between,
    pick_account,
    status_from_error_type,
    status_from_http,
)

_CALL_TYPES = {
    "completion": "chat.completions", "acompletion": "chat.completions",
    "responses": "responses", "aresponses": "responses",
    "anthropic_messages": "messages", "aanthropic_messages": "messages",
    "text_completion": "completions", "atext_completion": "completions",
    "embedding": "embeddings", "aembedding": "embeddings",
}  # fmt: skip
_ERROR_CLASSES = {
    "RateLimitError": "rate_limited", "BadRequestError": "invalid_request",
    "AuthenticationError": "authentication_error", "PermissionDeniedError": "permission_denied",
    "NotFoundError": "not_found", "Timeout": "timeout", "APITimeoutError": "timeout",
    "InternalServerError": "server_error", "ServiceUnavailableError": "overloaded",
    "ContextWindowExceededError": "invalid_request", "ContentPolicyViolationError": "invalid_request",
    "BudgetExceededError": "rate_limited",
}  # fmt: skip
# Columns that only repeat what is mapped.
_REDUNDANT = ("total_tokens",)


def _time(f: Fields, key: str) -> str | None:
    value = f.raw(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return from_epoch(value, f.name(key), "s")
    return from_text_time(value, f.name(key), naive_is_utc=True)


class LiteLLM(Dialect):
    name = "litellm"
    setting = "litellm_account_from"
    account_choices = ("team", "user", "key", "organization", "end_user")
    default_account = "team,user,key"
    sources: ClassVar[dict[str, str]] = {"event_id": "request_id (id)", "ts": "startTime", "model": "model_group and model"}  # fmt: skip

    def _score(self, obj: dict[str, Any]) -> float:
        keys = set(obj)
        if {"request_id", "call_type", "api_key", "startTime"} <= keys:
            return 1.0
        if {"id", "call_type", "startTime", "model_parameters"} <= keys:
            return 1.0
        if {"call_type", "startTime"} <= keys and ("spend" in keys or "response_cost" in keys):
            return 0.9
        return 0.0

    def _map(self, obj: dict[str, Any]) -> MappedRecord:
        f = Fields(obj)
        payload = "request_id" not in obj and "id" in obj
        metadata = f.sub("metadata")
        meta = metadata or Fields({}, "metadata")
        row: dict[str, Any] = {
            "event_id": f.text("id" if payload else "request_id"),
            "ts": _time(f, "startTime"),
        }
        end_time = _time(f, "endTime")
        duration = f.integer("request_duration_ms")
        row["latency_ms"] = (
            duration if duration is not None else millis_between(row["ts"], end_time)
        )
        call_type = f.text("call_type")
        row["endpoint"] = _CALL_TYPES.get(call_type or "", call_type)
        row["model"] = f.text("model_group") or f.text("model")
        row["input_tokens"] = f.integer("prompt_tokens")
        row["output_tokens"] = f.integer("completion_tokens")
        key = f.text("api_key") if not payload else meta.text("user_api_key_hash")
        user = f.text("user") if not payload else meta.text("user_api_key_user_id")
        team = f.text("team_id") or meta.text("user_api_key_team_id")
        organization = f.text("organization_id") or meta.text("user_api_key_org_id")
        end_user = f.text("end_user") or meta.text("user_api_key_end_user_id")
        row["api_key_id"] = key
        row["end_user_id"] = end_user
        row["ip"] = f.text("requester_ip_address") or meta.text("requester_ip_address")
        row["conversation_id"] = f.text("session_id")
        row["status"] = _status(f, meta)
        f.use(*_REDUNDANT)
        # The key's owners again (the spend log's own columns hold them), and its alias.
        meta.use(
            "user_api_key_alias", "user_api_key_team_alias", "user_api_key_team_id",
            "user_api_key_org_id", "user_api_key_user_id", "user_api_key_end_user_id",
            "user_api_key_hash", "requester_ip_address",
        )  # fmt: skip

        # The request: proxy_server_request (spend logs: {url, method, headers, body}), or the
        # messages and model parameters (standard logging payload).
        request = f.sub("proxy_server_request")
        body: Fields | None = None
        if request is not None:
            headers = request.sub("headers")
            if headers is not None:
                agent = next((k for k in headers.obj if k.lower() == "user-agent"), None)
                row["user_agent"] = headers.text(agent) if agent else None
            body = request.sub("body") if "body" in request.obj else request
            request.use("url", "method")
        messages = f.json("messages")
        if body is None and messages not in (None, {}, []):
            params = f.sub("model_parameters")
            synthetic = (
                {**(params.obj if params else {}), "messages": messages}
                if not isinstance(messages, str)
                else {"input": messages}
            )
            body = Fields(synthetic, "messages")
            if params is not None:
                params.use(*params.obj)
        elif messages in (None, {}, []):
            f.use("messages")
        kind = (
            row["endpoint"]
            if row["endpoint"] in ("chat.completions", "responses", "messages")
            else None
        )
        if body is not None and isinstance(body.obj, dict):
            kind = bodies.request_kind(body.obj, kind)
            columns = bodies.request_columns(body, kind)
            for column, value in columns.items():
                if column == "model":
                    row["model"] = row["model"] or value
                elif column == "end_user_id":
                    row["end_user_id"] = row["end_user_id"] or value
                elif column == "endpoint":
                    row["endpoint"] = row["endpoint"] or value
                else:
                    row[column] = value
        elif isinstance(messages, str):
            row["prompt"] = messages
        response = f.json("response")
        unmapped: list[str] = []
        if isinstance(response, dict) and response:
            answer = bodies.answer(response, kind or "chat.completions")
            row["response"] = answer.text
            if row["input_tokens"] is None:
                row["input_tokens"] = answer.input_tokens
            if row["output_tokens"] is None:
                row["output_tokens"] = answer.output_tokens
            row["reasoning_tokens"] = answer.reasoning_tokens
            unmapped = answer.unmapped
        elif isinstance(response, str) and response:
            row["response"] = response
        extra = meta.sub("additional_usage_values")
        if extra is not None and row.get("reasoning_tokens") is None:
            details = extra.sub("completion_tokens_details")
            if details is not None:
                row["reasoning_tokens"] = details.integer("reasoning_tokens")

        sources = {
            "team": ("team_id", team),
            "user": ("user", user),
            "key": ("api_key", key),
            "organization": ("organization_id", organization),
            "end_user": ("end_user", end_user),
        }
        row["account_id"] = pick_account(self.account_order, lambda c: sources[c])
        mapped = MappedRecord(exchanges=[self.finish(row)])
        team_alias = meta.obj.get("user_api_key_team_alias")
        if row["account_id"] == team and isinstance(team_alias, str) and team_alias:
            mapped.accounts.append({"account_id": team, "org_name": team_alias})
        mapped.note_unmapped(f.unmapped())
        mapped.note_unmapped(unmapped)
        return mapped


def _status(f: Fields, meta: Fields) -> str | None:
    state = f.text("status") or meta.text("status")
    if state is None:
        return None
    if state == "success":
        return "ok"
    info = f.sub("error_information") or meta.sub("error_information")
    if info is not None:
        code = info.raw("error_code")
        info.use("error_message", "llm_provider", "traceback")
        if isinstance(code, int | str) and not isinstance(code, bool) and str(code).isdigit():
            info.use("error_class")
            return status_from_http(int(code))
        kind = info.text("error_class")
        if kind:
            return _ERROR_CLASSES.get(kind, status_from_error_type(kind))
    f.use("error_str")
    return "error" if state == "failure" else state
