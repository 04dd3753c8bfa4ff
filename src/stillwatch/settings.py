"""Every setting, declared once: name, default, help.

Precedence: command-line flag > environment variable (``STILLWATCH_<NAME>``) >
``stillwatch.toml`` (in the working directory, or the file ``STILLWATCH_CONFIG`` names) > default.
``stillwatch config`` prints the resolved values and where each came from.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stillwatch.errors import UsageError

CONFIG_FILE = "stillwatch.toml"
CONFIG_ENV = "STILLWATCH_CONFIG"


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    minimum: int = 1  # integers, and sizes given as text
    size: bool = False  # text that must be a size such as 1GB

    @property
    def env(self) -> str:
        return "STILLWATCH_" + self.name.upper()

    def parse(self, raw: Any, where: str) -> Any:
        kind = type(self.default)
        if isinstance(raw, kind) and not (kind is int and isinstance(raw, bool)):
            value = raw
        elif kind is int and isinstance(raw, str):
            try:
                value = parse_size(raw)
            except ValueError:
                raise UsageError(
                    f"setting {self.name} from {where}: expected an integer (sizes may say "
                    f"KiB/MiB/GiB), got {raw!r}"
                ) from None
        elif kind is float and isinstance(raw, int | str) and not isinstance(raw, bool):
            try:
                value = float(raw)
            except ValueError:
                raise UsageError(
                    f"setting {self.name} from {where}: expected a number, got {raw!r}"
                ) from None
        elif kind is str:
            value = str(raw)
        else:
            raise UsageError(
                f"setting {self.name} from {where}: expected {kind.__name__}, got {raw!r}"
            )
        if kind is float and not 0 <= value <= 1:
            raise UsageError(f"setting {self.name} from {where}: must be in [0, 1], got {value}")
        if kind is int and value < self.minimum:
            raise UsageError(
                f"setting {self.name} from {where}: must be at least {self.minimum}, got {value}"
            )
        if self.size:
            try:
                size = parse_size(value)
            except ValueError:
                raise UsageError(
                    f"setting {self.name} from {where}: expected a size such as 1GB or 512MiB, "
                    f"got {value!r}"
                ) from None
            if size < self.minimum:
                raise UsageError(
                    f"setting {self.name} from {where}: at least {self.minimum // 2**20}MiB, "
                    f"got {value!r}"
                )
        return value


def parse_size(text: str) -> int:
    """Bytes in a size such as ``1GB``, ``512MiB`` or ``1048576``; ValueError otherwise."""
    units = {
        "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
        "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4, "b": 1,
    }  # fmt: skip
    t = text.strip().lower().replace("_", "")
    for unit, factor in units.items():
        if t.endswith(unit):
            number = float(t[: -len(unit)].strip())
            if not math.isfinite(number) or number < 0:
                raise ValueError(text)
            return int(number * factor)
    return int(t)


SETTINGS: tuple[Setting, ...] = (
    Setting("store", "stillwatch.duckdb", "path of the DuckDB store file"),
    Setting(
        "max_text_bytes",
        1024 * 1024,
        "prompt, system_prompt and response longer than this (UTF-8 bytes) are truncated and "
        "flagged",
    ),
    Setting("batch_rows", 500_000, "rows validated and written per batch: bounds ingest memory"),
    Setting(
        "conflict_window",
        86_400,
        "seconds: an exchange id stored earlier with other content is a conflict when its ts "
        "lies within this of the new batch's time span (duplicates are always found); bounds "
        "the lookup to the batch's time span, not the store",
    ),
    Setting(
        "memory_limit",
        "1GB",
        "DuckDB memory limit of the store (ingest gives DuckDB half, its batches the rest); "
        "larger work spills to disk; at least 128MiB",
        minimum=128 * 2**20,
        size=True,
    ),
    Setting(
        "threads",
        0,
        "threads for DuckDB and the scan's array work; 0 means one per core",
        minimum=0,
    ),
    Setting(
        "max_record_bytes",
        64 * 1024 * 1024,
        "a log record in a dialect (`--source`: one JSON line or CSV record) longer than this "
        "is quarantined, read past without being held in memory",
    ),
    # Where each log dialect takes account_id from: a comma-separated preference list, the
    # first present wins; a record with none is quarantined (docs/formats.md).
    Setting(
        "openai_account_from",
        "account",
        "OpenAI envelope: account_id from account, project, key or end_user (safety_identifier)",
    ),
    Setting(
        "anthropic_account_from",
        "account",
        "Anthropic envelope: account_id from account, project (workspace), key or end_user "
        "(metadata.user_id)",
    ),
    Setting(
        "otel_genai_account_from",
        "user",
        "OTel GenAI spans: account_id from user (user.id), service (service.name) or "
        "attribute:NAME",
    ),
    Setting(
        "litellm_account_from",
        "team,user,key",
        "LiteLLM: account_id from team, user, key, organization or end_user",
    ),
    Setting(
        "langfuse_account_from",
        "user",
        "Langfuse: account_id from user, project, session or metadata:KEY (the legacy layout "
        "has no user)",
    ),
    Setting(
        "helicone_account_from",
        "user",
        "Helicone: account_id from user (Helicone-User-Id), helicone_user or property:NAME",
    ),
    Setting(
        "content_sample_per_account",
        200,
        "prompts per account read by the content classifiers and MinHash: the ones whose "
        "event_id hashes lowest, so the sample is stable under row order",
    ),
    # Threat-intelligence sharing (`stillwatch intel`, docs/sharing.md).
    Setting(
        "intel_community_key",
        "",
        "file holding the sharing community's key (hex, one line; `stillwatch intel keygen`)",
    ),
    Setting("intel_identity", "unnamed provider", "our name as the sharing identity in bundles"),
    Setting(
        "intel_min_confidence",
        70,
        "campaigns below this confidence (0-100) are never exported",
    ),
    Setting(
        "intel_min_indicator_accounts",
        2,
        "a value is shared (or compared by PSI) only when this many campaign accounts carry it",
    ),
    Setting("intel_max_skeletons", 50, "most prompt skeletons exported per campaign"),
    Setting(
        "intel_max_bundle_bytes",
        16 * 1024 * 1024,
        "larger bundles are rejected unread on import, pull and push",
    ),
    Setting("intel_max_nesting", 32, "bundles whose JSON nests deeper are rejected unparsed"),
    Setting(
        "intel_minhash_min_similarity",
        80,
        "percent: a partner's MinHash signature matches our prompt skeleton at this estimated "
        "Jaccard similarity or above",
    ),
    Setting(
        "intel_psi_max_items",
        100_000,
        "a partner's PSI request with more items than this is refused",
    ),
    # The web server (`stillwatch serve`) and its state database, the casebook.
    Setting(
        "casebook",
        "",
        "path of the casebook, the SQLite database of users, sessions, verdicts, actions, "
        "allowlist and audit; empty means beside the store, named <store>.casebook.sqlite",
    ),
    Setting("web_host", "127.0.0.1", "address `stillwatch serve` listens on"),
    Setting("web_port", 8765, "port `stillwatch serve` listens on"),
    Setting(
        "session_secret",
        "",
        "key that signs CSRF tokens; empty means one generated once and kept in the casebook "
        "(secret: `stillwatch config` masks it)",
    ),
    Setting("session_hours", 12, "a login session lasts this many hours"),
    Setting(
        "web_trusted_proxies",
        "",
        "comma-separated addresses of reverse proxies whose X-Forwarded-Proto and "
        "X-Forwarded-For are believed (cookies get Secure when the forwarded scheme is https); "
        "empty believes none",
    ),
    Setting(
        "login_max_failures",
        5,
        "failed logins allowed per client address and per user name within "
        "login_window_seconds; more are answered 429",
    ),
    Setting("login_window_seconds", 300, "the window login_max_failures counts over"),
    Setting("web_max_body_bytes", 65536, "largest request body the server accepts (413 above)"),
    Setting(
        "web_ingest_max_body_bytes",
        16 * 1024 * 1024,
        "largest batch `POST /api/v1/exchanges` accepts (413 above); the batch is ingested in "
        "one transaction while the server holds the store's write lock",
    ),
    Setting("web_exchanges_shown", 50, "exchanges sampled from the store on an account's page"),
    Setting(
        "graph_max_nodes",
        300,
        "most nodes a graph draws; the rest are aggregated into one node per shared value",
    ),
    Setting(
        "webhook_url",
        "",
        "every verdict, action and login is POSTed here as JSON; empty sends nothing",
    ),
    Setting(
        "webhook_secret",
        "",
        "key of the HMAC-SHA256 signature header X-Stillwatch-Signature on webhook posts "
        "(secret: `stillwatch config` masks it)",
    ),
    Setting("webhook_retries", 6, "attempts per webhook event before it is marked failed"),
    Setting("webhook_timeout_seconds", 5, "seconds a webhook receiver has to answer"),
    Setting(
        "flag_threshold",
        0.5,
        "scan: a group score at least this counts as evidence in explain (docs/scoring.md); "
        "accounts are flagged as members of reported campaigns",
    ),
    Setting(
        "rules",
        "",
        "scan: extra detector rule files (YAML, comma-separated paths) beside the built-in ones",
    ),
    # Campaigns (issue 11: docs/campaigns.md).
    Setting(
        "campaign_target_fpr",
        0.0001,
        "scan: the false-positive rate per account the campaign threshold is set for, by the "
        "permutation null model (0.0001 = 1 per 10,000 accounts)",
    ),
    Setting(
        "campaign_min_score",
        0.45,
        "scan: a campaign is never reported below this score, whatever the null model allows",
    ),
    Setting(
        "campaign_resolution",
        0.02,
        "scan: Leiden CPM resolution: a cluster's internal edge weight must exceed this times "
        "its number of account pairs",
    ),
    Setting(
        "campaign_leiden_iterations",
        2,
        "scan: passes of Leiden's optimiser over the account graph (0: until a pass no longer "
        "improves the partition)",
        minimum=0,
    ),
    Setting(
        "campaign_merge_ratio",
        0.5,
        "scan: clusters are joined when their owned ties to each other weigh this much per "
        "account of the smaller one",
    ),
    Setting(
        "campaign_outer_share",
        0.6,
        "scan: an account outside every cluster joins a reported campaign when this share of "
        "its owned ties or more go to the campaign's members (and name enough distinct values)",
    ),
    Setting(
        "campaign_outer_account",
        0.5,
        "scan: ... or, whatever weight and evidence those ties would otherwise need (a quarter "
        "of one certain tie is enough), when they name two independent values and the "
        "account's own facts (young at first use, unverified, short-lived) score this much or "
        "more; 1 turns this off",
    ),
    Setting(
        "campaign_trim_strength",
        0.5,
        "scan: a member whose edges inside its cluster weigh less than this in total is "
        "trimmed (its only tie is weak)",
    ),
    Setting(
        "campaign_attribution_ratio",
        0.2,
        "scan: two campaigns are one operator's when their owned ties (not rented pools) weigh "
        "this much per account of the smaller",
    ),
    Setting("campaign_min_accounts", 3, "scan: fewest accounts a campaign can have"),
    Setting(
        "campaign_null_rounds",
        200,
        "scan: permutations of the null model that sets the campaign threshold",
    ),
    Setting(
        "campaign_bootstrap_rounds",
        200,
        "scan: bootstrap resamples of member accounts behind each campaign's exchange interval",
    ),
    Setting(
        "campaign_unseen_share",
        0.02,
        "scan: share of a campaign's accounts the graph may miss (or hold wrongly): its "
        "accounts and exchanges intervals reach this much further each way "
        "(calibrated by `stillwatch bench intervals`)",
    ),
    Setting(
        "campaign_mixture_margin",
        0.06,
        "scan: share of the members' exchanges judged resold or legitimate that the exchanges "
        "interval adds each way (calibrated by `stillwatch bench intervals`)",
    ),
    Setting(
        "link_top_k",
        30,
        "scan: each account keeps its strongest this-many edges in the account graph (hubs capped)",
    ),
)
# Settings whose values are never printed (``stillwatch config`` shows them as set or not).
SECRET_SETTINGS = frozenset({"session_secret", "webhook_secret"})
BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Resolved:
    values: Mapping[str, Any]
    sources: Mapping[str, str]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None


def _config_file(env: Mapping[str, str]) -> Path | None:
    named = env.get(CONFIG_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise UsageError(f"{CONFIG_ENV}={named}: no such file")
        return path
    path = Path(CONFIG_FILE)
    return path if path.is_file() else None


def _read_config(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: not a readable TOML file: {exc}") from None
    unknown = sorted(set(data) - set(BY_NAME))
    if unknown:
        raise UsageError(
            f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(BY_NAME)}"
        )
    return data


def resolve(
    flags: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> Resolved:
    """Resolve every setting. ``flags`` holds command-line values (None means not given)."""
    env = os.environ if env is None else env
    path = _config_file(env)
    from_file = _read_config(path) if path else {}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for s in SETTINGS:
        flag = (flags or {}).get(s.name)
        if flag is not None:
            values[s.name], sources[s.name] = s.parse(flag, "flag"), "flag"
        elif s.env in env:
            values[s.name] = s.parse(env[s.env], f"${s.env}")
            sources[s.name] = f"env {s.env}"
        elif s.name in from_file:
            values[s.name] = s.parse(from_file[s.name], str(path))
            sources[s.name] = f"file {path}"
        else:
            values[s.name], sources[s.name] = s.default, "default"
    return Resolved(values, sources)
