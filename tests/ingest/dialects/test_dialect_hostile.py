"""Hostile input for every adapter: arbitrary JSON, fixture records with values swapped for
wrong types, huge strings and deep nesting, and every truncation of a record. An adapter may
map, skip or quarantine, but never raises, and every row it maps is well typed."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stillwatch.ingest.dialects import DIALECTS, WRITERS, adapter
from stillwatch.ingest.dialects.base import MAX_ID_CHARS, MappedRecord, parse_time
from stillwatch.schema import EXCHANGES

FIXTURES = Path(__file__).parent / "fixtures"
FILES = {
    "openai": ["openai.jsonl"],
    "anthropic": ["anthropic.jsonl"],
    "otel-genai": ["otel_genai.jsonl"],
    "litellm": ["litellm_spend_logs.jsonl", "litellm_standard_logging_payload.jsonl"],
    "langfuse": ["langfuse_observations_v2.jsonl", "langfuse_api_observations.jsonl"],
    "helicone": ["helicone.jsonl"],
}
_PY = {"string": str, "ip": str, "int": int, "float": float, "bool": bool, "timestamp": str}


_ROW = {
    "event_id": "e1", "ts": "2026-04-22T13:05:09.123Z", "account_id": "a1", "api_key_id": "k1",
    "end_user_id": "u1", "conversation_id": "c1", "turn_index": 1, "ip": "203.0.113.7",
    "user_agent": "ua/1", "tls_fingerprint": "t13d", "model": "m1", "endpoint": "chat.completions",
    "system_prompt": "sys", "prompt": "p", "response": "r", "input_tokens": 3, "output_tokens": 4,
    "reasoning_tokens": 1, "max_tokens": 9, "temperature": 0.5, "tools_count": 2, "thinking": True,
    "status": "ok", "latency_ms": 100,
}  # fmt: skip
_WRITTEN = {
    "openai": [
        ("openai", {"stream": True}, "chat.completions"),
        ("openai", {"stream": True}, "responses"),
    ],
    "anthropic": [("anthropic", {"stream": True}, "messages")],
    "otel-genai": [("otel-genai", {"conventions": "old"}, "messages")],
    "litellm": [("litellm", {}, "responses"), ("litellm", {}, "messages")],
    "langfuse": [("langfuse", {"legacy": True}, "chat.completions")],
    "helicone": [("helicone", {}, "messages")],
}


def records(dialect: str) -> list[Any]:
    """The fixture records, and records the writers make (streams, other layouts)."""
    out = []
    for name in FILES[dialect]:
        for line in (FIXTURES / name).read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out + [
        record
        for name, options, endpoint in _WRITTEN[dialect]
        for record in WRITERS[name](**options).records([{**_ROW, "endpoint": endpoint}])
    ]


def well_formed(result: MappedRecord) -> None:
    assert isinstance(result, MappedRecord)
    for row in result.exchanges:
        for column in ("event_id", "ts", "account_id", "model"):
            assert isinstance(row.get(column), str) and row[column].strip(), (column, row)
        for column, value in row.items():
            kind = EXCHANGES.column(column).kind  # KeyError: not a canonical column
            assert type(value) is _PY[kind], (column, value)
        assert parse_time(row["ts"]) is not None
    for q in result.quarantined:
        assert isinstance(q.reason, str) and q.reason and "\n" not in q.reason
        assert len(q.reason) < 400


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(
        ["", "NaN", "-1", "1e400", "2026-02-30T00:00:00Z", "0x1F", "\x00", "{", "[DONE]"]
    ),
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)
_hostile = st.one_of(
    _json,
    st.builds(lambda n: "x" * n, st.sampled_from([MAX_ID_CHARS + 1, 200_000])),
    st.builds(lambda d: json.loads("[" * d + "]" * d), st.integers(70, 900)),
    st.builds(lambda d: {"a": json.loads("[" * d + "]" * d)}, st.integers(70, 900)),
)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


def _replace(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = dict(obj) if isinstance(obj, dict) else list(obj)
    copy[path[0]] = _replace(obj[path[0]], path[1:], value)  # type: ignore[index]
    return copy


@pytest.mark.parametrize("dialect", list(DIALECTS))
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_records_never_raise(dialect: str, data: Any) -> None:
    record = data.draw(st.sampled_from(records(dialect)))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(record)))
        record = _replace(record, path, data.draw(_hostile))
    a = adapter(dialect)
    well_formed(a.map(record))
    # the same record as text, as a reader hands it on
    try:
        text = json.dumps(record)
    except (ValueError, RecursionError):
        return
    well_formed(a.map(text))


@pytest.mark.parametrize("dialect", list(DIALECTS))
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=_json)
def test_arbitrary_json_never_raises(dialect: str, value: Any) -> None:
    well_formed(adapter(dialect).map(value))
    well_formed(adapter(dialect).map(json.dumps(value)))


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_every_truncation_is_quarantined_or_mapped(dialect: str) -> None:
    a = adapter(dialect)
    for record in records(dialect)[:2]:
        text = json.dumps(record)
        step = max(1, len(text) // 300)
        for end in range(0, len(text), step):
            result = a.map(text[:end])
            well_formed(result)
            assert result.quarantined and not result.exchanges


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_deep_nesting_and_huge_identifiers(dialect: str) -> None:
    a = adapter(dialect)
    deep = "[" * 100_000 + "]" * 100_000
    result = a.map('{"request": ' + deep + "}")
    assert [q.reason for q in result.quarantined] == ["record nests deeper than 64 levels"]
    record = records(dialect)[0]
    text = json.dumps(record)
    big = json.loads(text.replace('"gpt-', '"' + "g" * 5000).replace('"claude-', '"' + "c" * 5000))
    assert big != record
    result = a.map(big)
    well_formed(result)
    assert any("longer than 1024 characters" in q.reason for q in result.quarantined)


def test_huge_prompt_text_is_kept_for_the_canonical_truncation() -> None:
    """Text columns are not cut by the adapter: ingest truncates and flags them."""
    record = records("openai")[1]
    record["request"]["messages"][-1]["content"] = "p" * 3_000_000
    row = adapter("openai").map(record).exchanges[0]
    assert len(row["prompt"]) == 3_000_000


def test_csv_cells_of_the_wrong_kind() -> None:
    with open(FIXTURES / "litellm_spend_logs.csv", newline="", encoding="utf-8") as fh:
        row = next(csv.DictReader(fh))
    for column, bad, reason in [
        ("prompt_tokens", "12.5", "prompt_tokens: not an integer: '12.5'"),
        ("completion_tokens", "-3", "completion_tokens: negative count: -3"),
        ("startTime", "yesterday", "startTime: not a timestamp: 'yesterday'"),
        ("metadata", '{"user_api_key_team_id": ', "metadata is not valid JSON"),
        ("proxy_server_request", "[1, 2]", "proxy_server_request: expected an object, got array"),
    ]:
        result = adapter("litellm").map({**row, column: bad})
        assert result.exchanges == []
        assert result.quarantined[0].reason.startswith(reason), result.quarantined


_SWAPS: list[Any] = [
    None,
    True,
    5,
    -7,
    1.5,
    "x",
    "",
    [],
    {},
    [5],
    {"a": 5},
    "x" * (MAX_ID_CHARS + 1),
]


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_every_field_swapped_for_every_wrong_kind(dialect: str) -> None:
    """Exhaustive where the property test samples: each value of each fixture record, in
    turn, replaced by each kind of wrong value."""
    a = adapter(dialect)
    for record in records(dialect):
        for path in _paths(record):
            for swap in _SWAPS:
                try:
                    result = a.map(_replace(record, path, swap))
                except Exception as exc:  # pragma: no cover - the failure message
                    raise AssertionError(f"{dialect}: {path} = {swap!r}: {exc!r}") from exc
                well_formed(result)


def test_otel_span_events_that_are_not_a_list_are_quarantined() -> None:
    """Hypothesis found ``{"events": true}``: a TypeError instead of a quarantined span."""
    from stillwatch.ingest.dialects import adapter

    mapped = adapter("otel-genai").map({"events": True})
    assert [q.reason for q in mapped.quarantined] == ["span events: expected a list, got boolean"]
