"""What the dialect writers share: canonical values back to the forms the formats use, and
the transcript a request carries (its conversation's earlier turns, as real logs hold them).

The writers exist so that simulated traffic can be written in each dialect
(``stillwatch simulate --write-as``) and read back; ``docs/formats.md`` lists, per format, the
columns that survive the trip.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from stillwatch.ingest.dialects.base import ERROR_TYPE_OF, STATUS_HTTP, rfc3339

Row = dict[str, Any]


def moment(value: Any) -> datetime | None:
    """A canonical ``ts`` (datetime, RFC 3339 text, or epoch milliseconds) as an aware UTC
    datetime."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=value)
    text = str(value)
    parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "Zz" else text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso(value: Any) -> str | None:
    m = moment(value)
    return rfc3339(m) if m else None


def end_of(row: Row) -> datetime | None:
    start = moment(row.get("ts"))
    latency = row.get("latency_ms")
    return start + timedelta(milliseconds=latency) if start and latency is not None else None


def http_status(status: str | None) -> int | None:
    return STATUS_HTTP.get(status or "ok")


def error_type(status: str) -> str:
    return ERROR_TYPE_OF.get(status, status)


def hex_id(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def placeholder_tools(count: int | None, style: str) -> list[dict[str, Any]] | None:
    """``count`` tool definitions (the canonical row keeps only how many there were)."""
    if count is None:
        return None
    if style == "anthropic":
        return [
            {"name": f"tool_{i}", "input_schema": {"type": "object", "properties": {}}}
            for i in range(count)
        ]
    if style == "responses":
        return [
            {
                "type": "function",
                "name": f"tool_{i}",
                "parameters": {"type": "object", "properties": {}},
            }
            for i in range(count)
        ]
    return [
        {
            "type": "function",
            "function": {"name": f"tool_{i}", "parameters": {"type": "object", "properties": {}}},
        }
        for i in range(count)
    ]


class History:
    """Earlier turns of each conversation, by turn index, so that a request written for turn
    ``k`` carries the ``k`` exchanges before it. A turn never seen (rows filtered out, or a
    conversation evicted past ``max_conversations``) is written with empty text: the turn
    count stays right, the lost text stays lost."""

    def __init__(self, max_conversations: int = 50_000) -> None:
        self.max_conversations = max_conversations
        self._turns: OrderedDict[str, dict[int, tuple[str, str]]] = OrderedDict()

    def earlier(self, row: Row) -> list[tuple[str, str]]:
        count = row.get("turn_index") or 0
        known = self._turns.get(row.get("conversation_id") or "", {})
        return [known.get(k, ("", "")) for k in range(count)]

    def add(self, row: Row) -> None:
        conversation = row.get("conversation_id")
        if not conversation:
            return
        turns = self._turns.setdefault(conversation, {})
        self._turns.move_to_end(conversation)
        turns[row.get("turn_index") or 0] = (row.get("prompt") or "", row.get("response") or "")
        while len(self._turns) > self.max_conversations:
            self._turns.popitem(last=False)


def transcript(
    row: Row, earlier: list[tuple[str, str]], system_in_list: bool
) -> list[dict[str, Any]]:
    """Chat messages: [system,] then the earlier turns, then this turn's user text."""
    messages: list[dict[str, Any]] = []
    if system_in_list and row.get("system_prompt"):
        messages.append({"role": "system", "content": row["system_prompt"]})
    for prompt, response in earlier:
        messages.append({"role": "user", "content": prompt})
        messages.append({"role": "assistant", "content": response})
    messages.append({"role": "user", "content": row.get("prompt") or ""})
    return messages


class Writer:
    """A dialect writer: canonical exchanges rows in (in time order), dialect records out."""

    name = ""
    carries: frozenset[str] = frozenset()  # canonical columns a round trip keeps exactly
    endpoints: tuple[str, ...] = ()  # canonical endpoints the format can say

    def __init__(self) -> None:
        self.history = History()

    def records(self, rows: Iterable[Row]) -> Iterator[Any]:
        for row in rows:
            earlier = self.history.earlier(row)
            yield from self.write_row(row, earlier)
            self.history.add(row)

    def write_row(self, row: Row, earlier: list[tuple[str, str]]) -> Iterator[Any]:
        raise NotImplementedError


def drop_none(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if v is not None}
