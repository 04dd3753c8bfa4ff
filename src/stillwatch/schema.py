"""The canonical tables every adapter maps onto and every detector reads.

One declaration per column, mirrored from ``shared/schema/README.md``; the store's DDL,
the ingest validation and the simulator's writers are all generated from it, so a column
added here reaches every stage at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["string", "timestamp", "int", "float", "bool", "ip"]

# DuckDB type each kind is stored as. Timestamps are stored as naive TIMESTAMP in UTC.
STORE_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "int": "BIGINT",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
    "ip": "VARCHAR",
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool
    meaning: str


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _c(name: str, kind: Kind, required: bool, meaning: str) -> Column:
    return Column(name, kind, required, meaning)


EXCHANGES = Table(
    "exchanges",
    (
        _c("event_id", "string", True, "unique id of the exchange (the provider's request id)"),
        _c("ts", "timestamp", True, "when the request arrived (UTC)"),
        _c("account_id", "string", True, "the paying account that owns the API key"),
        _c("api_key_id", "string", False, "the key used"),
        _c("end_user_id", "string", False, "the customer's own end-user id"),
        _c("conversation_id", "string", False, "groups the turns of one conversation"),
        _c("turn_index", "int", False, "0 for the first user turn, then 1, 2, ..."),
        _c("ip", "ip", False, "client IP address or truncated CIDR prefix"),
        _c("ip_hash", "string", False, "keyed hash of the address"),
        _c("asn", "int", False, "autonomous system of ip"),
        _c("ip_country", "string", False, "ISO 3166-1 alpha-2 country of ip"),
        _c("user_agent", "string", False, "HTTP User-Agent"),
        _c("tls_fingerprint", "string", False, "JA3/JA4 or similar client fingerprint"),
        _c("model", "string", True, "model the request asked for"),
        _c("endpoint", "string", False, "messages, chat.completions, responses, ..."),
        _c("system_prompt", "string", False, "system / developer instructions text"),
        _c("prompt", "string", False, "text of the latest user turn"),
        _c("prompt_sha256", "string", False, "hex SHA-256 of the prompt text"),
        _c("response", "string", False, "text of the model's answer"),
        _c("input_tokens", "int", False, "input tokens billed"),
        _c("output_tokens", "int", False, "output tokens billed"),
        _c("reasoning_tokens", "int", False, "thinking / reasoning tokens produced"),
        _c("max_tokens", "int", False, "output cap the request asked for"),
        _c("temperature", "float", False, "sampling temperature asked for"),
        _c("tools_count", "int", False, "number of tool definitions in the request"),
        _c("thinking", "bool", False, "extended thinking was requested"),
        _c("status", "string", False, "ok, or an error code"),
        _c("latency_ms", "int", False, "time to the full response"),
    ),
    key=("event_id",),
)

ACCOUNTS = Table(
    "accounts",
    (
        _c("account_id", "string", True, "joins exchanges.account_id"),
        _c("created_at", "timestamp", False, "account registration time (UTC)"),
        _c("email_domain", "string", False, "domain of the registering e-mail"),
        _c("payment_fingerprint", "string", False, "opaque hash of the payment instrument"),
        _c("signup_ip", "ip", False, "IP address at registration"),
        _c("country", "string", False, "billing country, ISO alpha-2"),
        _c("signup_path", "string", False, "self-serve, education, startup-program, ..."),
        _c("org_name", "string", False, "organization name as registered"),
        _c("verified", "bool", False, "identity verification passed"),
    ),
    key=("account_id",),
)

ENFORCEMENTS = Table(
    "enforcements",
    (
        _c("account_id", "string", True, "the account acted on"),
        _c("ts", "timestamp", True, "when (UTC)"),
        _c("action", "string", True, "suspend, ban, throttle, challenge, reinstate"),
        _c("api_key_id", "string", False, "where the action was on one key only"),
        _c("reason", "string", False, "free text or a code"),
    ),
    key=("account_id", "ts", "action", "api_key_id"),
)

# Ground truth: written by the simulator, read only by the scorer, never by a detector.
LABELS_ACCOUNTS = Table(
    "labels_accounts",
    (
        _c("account_id", "string", True, "the account"),
        _c("operator_id", "string", False, "operator behind it; null for a legitimate account"),
        _c("campaign_id", "string", False, "campaign it served; null where none"),
        _c("kind", "string", True, "campaign, benign, or benign:<hard-negative kind>"),
    ),
    key=("account_id",),
)

LABELS_EXCHANGES = Table(
    "labels_exchanges",
    (
        _c("event_id", "string", True, "an exchange that served a campaign"),
        _c("campaign_id", "string", True, "the campaign it served"),
    ),
    key=("event_id",),
)

CANONICAL: dict[str, Table] = {t.name: t for t in (EXCHANGES, ACCOUNTS, ENFORCEMENTS)}
GROUND_TRUTH: dict[str, Table] = {t.name: t for t in (LABELS_ACCOUNTS, LABELS_EXCHANGES)}
TEXT_COLUMNS = ("prompt", "system_prompt", "response")
