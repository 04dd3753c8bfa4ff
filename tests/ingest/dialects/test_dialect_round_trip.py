"""Canonical rows → each dialect → canonical rows: identical on the columns the format
carries (``Writer.carries``, the lists in docs/formats.md), through JSON text as in a file."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stillwatch.ingest.dialects import DIALECTS, WRITERS, adapter
from stillwatch.ingest.dialects.base import parse_time
from stillwatch.ingest.dialects.litellm_write import csv_row
from stillwatch.ingest.dialects.write import Writer
from stillwatch.schema import EXCHANGES

_ids = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=12)
_text = st.text(min_size=1, max_size=40).filter(lambda t: "\x00" not in t)
_STATUSES = ["ok", "ok", "ok", "rate_limited", "overloaded", "invalid_request", "server_error"]
_T0 = datetime(2026, 4, 22, tzinfo=UTC)


@st.composite
def exchange_rows(draw: Any, endpoints: tuple[str, ...]) -> list[dict[str, Any]]:
    """A few conversations of a few turns each, in time order, like the simulator's."""
    rows: list[dict[str, Any]] = []
    n_conv = draw(st.integers(1, 3))
    t = 0
    for c in range(n_conv):
        turns = draw(st.integers(1, 3))
        conv = draw(st.one_of(st.none(), _ids.map(lambda s, c=c: f"c{c}-{s}")))
        for k in range(turns):
            t += draw(st.integers(1, 10**7))
            status = draw(st.sampled_from(_STATUSES))
            ok = status == "ok"
            row = {
                "event_id": f"e{len(rows)}-{draw(_ids)}",
                "ts": (_T0 + timedelta(milliseconds=t))
                .isoformat(timespec="milliseconds")
                .replace("+00:00", "Z"),
                "account_id": draw(_ids),
                "api_key_id": draw(st.one_of(st.none(), _ids)),
                "end_user_id": draw(st.one_of(st.none(), _ids)),
                "conversation_id": conv,
                "turn_index": k if conv else 0,
                "ip": draw(
                    st.sampled_from([None, "203.0.113.7", "2001:db8::1", "198.51.100.0/24"])
                ),
                "ip_hash": draw(st.one_of(st.none(), _ids)),
                "asn": draw(st.one_of(st.none(), st.integers(1, 400000))),
                "ip_country": draw(st.sampled_from([None, "US", "CN", "DE"])),
                "user_agent": draw(
                    st.sampled_from([None, "OpenAI/Python 1.82.0", "Anthropic/Python 0.52.0"])
                ),
                "tls_fingerprint": draw(st.one_of(st.none(), _ids)),
                "model": draw(st.sampled_from(["gpt-4o", "claude-sonnet-4-5", "frontier-1"])),
                "endpoint": draw(st.sampled_from(endpoints)),
                "system_prompt": draw(st.one_of(st.none(), _text)),
                "prompt": draw(_text),
                "response": draw(_text) if ok else None,
                "input_tokens": draw(st.integers(0, 10**6)) if ok else None,
                "output_tokens": draw(st.integers(0, 10**5)) if ok else None,
                "reasoning_tokens": draw(st.one_of(st.none(), st.integers(0, 10**4)))
                if ok
                else None,
                "max_tokens": draw(st.one_of(st.none(), st.integers(1, 10**5))),
                "temperature": draw(st.one_of(st.none(), st.floats(0, 2))),
                "tools_count": draw(st.integers(0, 5)),
                "thinking": draw(st.one_of(st.none(), st.booleans())),
                "status": status,
                "latency_ms": draw(st.one_of(st.none(), st.integers(0, 600000))),
            }
            rows.append(row)
    return rows


def _through_json(records: list[Any]) -> list[str]:
    return [json.dumps(r) for r in records]


def _read_back(
    name: str, writer: Writer, rows: list[dict[str, Any]], account_from: str | None = None
) -> list[dict[str, Any]]:
    lines = _through_json(list(writer.records(rows)))
    dialect = DIALECTS[name](account_from)
    out: list[dict[str, Any]] = []
    for line in lines:
        mapped = dialect.map(line)
        assert not mapped.quarantined, mapped.quarantined
        out.extend(mapped.exchanges)
    return out


def _same(
    name: str, writer: Writer, before: list[dict[str, Any]], after: list[dict[str, Any]]
) -> None:
    assert len(after) == len(before)
    for a, b in zip(before, after, strict=True):
        for column in sorted(writer.carries):
            want, got = a.get(column), b.get(column)
            if column == "ts":
                want, got = parse_time(want), parse_time(got)
            if (
                column == "reasoning_tokens"
                and a.get("endpoint") == "messages"
                and name == "helicone"
            ):
                continue  # Anthropic bodies do not report reasoning tokens
            assert got == want, f"{name}: {column}: wrote {want!r}, read {got!r} ({a['event_id']})"


@pytest.mark.parametrize("name", list(WRITERS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_round_trip_keeps_carried_columns(name: str, data: Any) -> None:
    writer = WRITERS[name]()
    rows = data.draw(exchange_rows(writer.endpoints))
    if name == "anthropic":
        for r in rows:
            r["reasoning_tokens"] = None
    _same(name, writer, rows, _read_back(name, WRITERS[name](), rows))


@pytest.mark.parametrize(
    ("name", "writer_options", "account_from"),
    [
        ("openai", {"stream": True}, None),
        ("anthropic", {"stream": True}, None),
        ("otel-genai", {"conventions": "old"}, None),
        ("otel-genai", {"spans_per_export": 1}, None),
        ("langfuse", {"legacy": True}, "metadata:account_id"),
    ],
)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_round_trip_variants(
    name: str, writer_options: dict[str, Any], account_from: str | None, data: Any
) -> None:
    """Streamed responses, the older OTel attribute names, one span per export, and
    Langfuse's legacy layout keep the same columns."""
    writer_cls = WRITERS[name]
    rows = data.draw(exchange_rows(writer_cls.endpoints))
    if name == "anthropic":
        for r in rows:
            r["reasoning_tokens"] = None
    carries = set(writer_cls.carries)
    if name == "langfuse":
        carries.discard("conversation_id")  # the legacy layout has no session
    lines = _through_json(list(writer_cls(**writer_options).records(rows)))
    dialect = DIALECTS[name](account_from)
    after = [row for line in lines for row in dialect.map(line).exchanges]
    probe = writer_cls()
    probe.carries = frozenset(carries)
    _same(name, probe, rows, after)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_litellm_csv_round_trip(data: Any) -> None:
    """A spend-log export as CSV: every cell text, JSON columns as JSON text."""
    writer = WRITERS["litellm"]()
    rows = data.draw(exchange_rows(writer.endpoints))
    records = [csv_row(r) for r in WRITERS["litellm"]().records(rows)]
    buffer = io.StringIO()
    out = csv.DictWriter(buffer, fieldnames=list(records[0]))
    out.writeheader()
    out.writerows(records)
    buffer.seek(0)
    dialect = adapter("litellm")
    after = [row for rec in csv.DictReader(buffer) for row in dialect.map(rec).exchanges]
    _same("litellm", writer, rows, after)


def test_carried_columns_are_canonical() -> None:
    for writer in WRITERS.values():
        assert writer.carries <= set(EXCHANGES.names), writer.name
        assert {"event_id", "ts", "account_id", "model"} <= writer.carries, writer.name
