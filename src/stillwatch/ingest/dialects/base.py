"""What every dialect adapter shares: the mapped record, a field reader that remembers which
source fields it used (so the others are reported as unmapped, never silently dropped), and
value checks that turn hostile input (wrong types, deep nesting, huge identifiers, truncated
JSON) into quarantine reasons instead of exceptions.

Mapped rows hold canonical column names (``stillwatch.schema``) and the Python values the
canonical JSON Lines reader accepts: ``str`` for strings and IP addresses, ``int``, ``float``,
``bool``, and timestamps as RFC 3339 text. A column absent from a row is NULL. The canonical
validation (required fields, IP syntax, text truncation, time zones) still runs on them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from stillwatch.errors import UsageError

MAX_DEPTH = 64  # nesting a record may have; deeper is quarantined (no recursion limit is hit)
MAX_ID_CHARS = 1024  # identifiers (ids, model names, user agents) longer than this are refused
MAX_UNMAPPED_NAMES = 50  # unmapped field names kept per record; the rest are counted
EXCERPT = 60

_INT_TEXT = re.compile(r"-?[0-9]{1,19}")


class Unmappable(Exception):
    """Raised inside an adapter: the record (or one part of it) cannot be mapped."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Quarantined:
    """A record, or one part of it (``part``: e.g. a span's place in an OTLP export), that
    could not be mapped, and why."""

    reason: str
    part: str = ""


@dataclass
class MappedRecord:
    """What one source record became.

    ``exchanges`` and ``accounts`` are canonical rows; ``unmapped`` names the source fields
    present in the record that no canonical column holds (``unmapped_more`` counts those past
    the first ``MAX_UNMAPPED_NAMES``); ``quarantined`` holds the parts that could not be
    mapped; ``skipped`` counts parts that are not model calls at all, by reason (an OTel span
    of an HTTP handler, a Langfuse span), which are neither rows nor errors.
    """

    exchanges: list[dict[str, Any]] = field(default_factory=list)
    accounts: list[dict[str, Any]] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    unmapped_more: int = 0
    quarantined: list[Quarantined] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def note_unmapped(self, names: Iterable[str]) -> None:
        for name in names:
            if name in self.unmapped:
                continue
            if len(self.unmapped) < MAX_UNMAPPED_NAMES:
                self.unmapped.append(name)
            else:
                self.unmapped_more += 1

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def quarantine(reason: str) -> MappedRecord:
    return MappedRecord(quarantined=[Quarantined(reason)])


def excerpt(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)[:EXCERPT]
    return repr(text[:EXCERPT]) + ("…" if len(text) > EXCERPT else "")


def items_of(value: Any) -> list[Any]:
    """``value`` if it is a list, else no items: for the optional arrays inside streamed
    events and spans, where a wrong type is skipped like any unknown event content."""
    return value if isinstance(value, list) else []


def kind_of(obj: dict[str, Any], key: str = "type") -> str | None:
    """A ``type``-like field as text, None when absent or not text."""
    value = obj.get(key)
    return value if isinstance(value, str) else None


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


# -- parsing --------------------------------------------------------------------------------
def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """True if ``value`` nests containers deeper than ``limit`` (checked level by level,
    without recursion)."""
    level = [value] if isinstance(value, dict | list) else []
    depth = 1
    while level:
        deeper: list[Any] = []
        for item in level:
            children = item.values() if isinstance(item, dict) else item
            deeper += [c for c in children if isinstance(c, dict | list)]
        if deeper and depth >= limit:
            return True
        level = deeper
        depth += 1
    return False


def load_json(text: str | bytes, what: str = "record") -> Any:
    """Parse JSON text; Unmappable (never another exception) when it is not acceptable."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise Unmappable(f"{what} is not UTF-8 text") from None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise Unmappable(f"{what} nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise Unmappable(f"{what} is not valid JSON: {str(exc).splitlines()[0][:120]}") from None
    if too_deep(value):
        raise Unmappable(f"{what} nests deeper than {MAX_DEPTH} levels")
    return value


def as_object(record: Any, what: str = "record") -> dict[str, Any]:
    """A record as a JSON object: parsed if it is text, checked for depth either way."""
    value = load_json(record, what) if isinstance(record, str | bytes) else record
    if not isinstance(value, dict):
        raise Unmappable(f"{what} is not a JSON object (got {type_name(value)})")
    if value is record and too_deep(value):
        raise Unmappable(f"{what} nests deeper than {MAX_DEPTH} levels")
    return value


def maybe_json(value: Any, path: str) -> Any:
    """A value that exports may hold either as JSON or as JSON-encoded text (CSV cells,
    Langfuse's ``input``): text that looks like a JSON object or array is parsed."""
    if isinstance(value, str):
        stripped = value.lstrip()
        if stripped[:1] in ("{", "["):
            return load_json(stripped, path)
    return value


# -- values -----------------------------------------------------------------------------------
def _absent(value: Any) -> bool:
    return value is None or value == ""


def to_text(value: Any, path: str, ident: bool = True) -> str | None:
    """A string value; numbers are accepted as their text. ``ident`` caps the length."""
    if _absent(value):
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Unmappable(f"{path}: expected text, got {type_name(value)}")
    text = value if isinstance(value, str) else str(value)
    if ident and len(text) > MAX_ID_CHARS:
        raise Unmappable(f"{path}: longer than {MAX_ID_CHARS} characters")
    if "\x00" in text and ident:
        raise Unmappable(f"{path}: holds a NUL character")
    return text


def to_int(value: Any, path: str, count: bool = True) -> int | None:
    """An integer; JSON numbers with no fraction, or decimal text (CSV, OTLP ``intValue``).
    ``count`` refuses negatives (token counts, durations)."""
    if _absent(value):
        return None
    if isinstance(value, bool):
        raise Unmappable(f"{path}: expected an integer, got boolean")
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise Unmappable(f"{path}: not an integer: {excerpt(value)}")
        number = int(value)
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        raise Unmappable(f"{path}: not an integer: {excerpt(value)}")
    if not -(2**63) <= number < 2**63:
        raise Unmappable(f"{path}: integer out of range: {excerpt(value)}")
    if count and number < 0:
        raise Unmappable(f"{path}: negative count: {number}")
    return number


def to_float(value: Any, path: str) -> float | None:
    if _absent(value):
        return None
    if isinstance(value, bool):
        raise Unmappable(f"{path}: expected a number, got boolean")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise Unmappable(f"{path}: not a number: {excerpt(value)}") from None
    else:
        raise Unmappable(f"{path}: expected a number, got {type_name(value)}")
    if not math.isfinite(number):
        raise Unmappable(f"{path}: not a finite number: {excerpt(value)}")
    return number


def to_bool(value: Any, path: str) -> bool | None:
    if _absent(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise Unmappable(f"{path}: expected true or false, got {excerpt(value)}")


# -- timestamps ---------------------------------------------------------------------------------
def rfc3339(moment: datetime) -> str:
    """UTC RFC 3339 text with milliseconds, or microseconds where the source had them."""
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.%f")
    return (text[:-3] if moment.microsecond % 1000 == 0 else text) + "Z"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MIN = datetime(1900, 1, 1, tzinfo=UTC)
_MAX = datetime(2200, 1, 1, tzinfo=UTC)


def from_epoch(value: Any, path: str, unit: str) -> str | None:
    """``unit`` is ``s``, ``ms`` or ``ns``; fractional seconds are allowed for ``s``."""
    if _absent(value):
        return None
    if unit == "s":
        seconds = to_float(value, path)
        assert seconds is not None
        micros = round(seconds * 1_000_000)
    else:
        number = to_int(value, path, count=False)
        assert number is not None
        micros = number * 1000 if unit == "ms" else number // 1000
    moment = _EPOCH + timedelta(microseconds=micros) if abs(micros) < 2**62 else None
    if moment is None or not _MIN <= moment < _MAX:
        raise Unmappable(f"{path}: time out of range: {excerpt(value)}")
    return rfc3339(moment)


def from_text_time(value: Any, path: str, naive_is_utc: bool) -> str | None:
    """RFC 3339 / ISO 8601 text. A time without a zone is read as UTC where the format's
    documentation says it is UTC (``naive_is_utc``); otherwise the text is passed on as given,
    so the canonical validation reads it as UTC and counts it in the run's warnings."""
    if _absent(value):
        return None
    if not isinstance(value, str):
        raise Unmappable(f"{path}: expected a timestamp as text, got {type_name(value)}")
    text = value.strip()
    if len(text) > 64:
        raise Unmappable(f"{path}: not a timestamp: {excerpt(value)}")
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "Zz" else text)
    except ValueError:
        raise Unmappable(f"{path}: not a timestamp: {excerpt(value)}") from None
    if moment.tzinfo is None:
        if not naive_is_utc:
            if not _MIN.replace(tzinfo=None) <= moment < _MAX.replace(tzinfo=None):
                raise Unmappable(f"{path}: time out of range: {excerpt(value)}")
            return text
        moment = moment.replace(tzinfo=UTC)
    if not _MIN <= moment < _MAX:
        raise Unmappable(f"{path}: time out of range: {excerpt(value)}")
    return rfc3339(moment)


def parse_time(value: Any) -> datetime | None:
    """A mapped ``ts`` back as a datetime (naive text read as UTC), for latency sums."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def millis_between(start: str | None, end: str | None) -> int | None:
    a, b = parse_time(start), parse_time(end)
    if a is None or b is None or b < a:
        return None
    return round((b - a).total_seconds() * 1000)


# -- the field reader -------------------------------------------------------------------------
class Fields:
    """A JSON object as an adapter reads it. Every key looked at is remembered; the keys never
    looked at are what :meth:`unmapped` reports. Typed getters raise :class:`Unmappable` with the
    field's path when a value has the wrong type."""

    def __init__(self, obj: dict[str, Any], path: str = "") -> None:
        self.obj = obj
        self.path = path
        self._seen: set[str] = set()
        self._children: list[Fields] = []

    def name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        return not _absent(self.obj.get(key))

    def use(self, *keys: str) -> None:
        """Mark keys as read: they are mapped elsewhere, or carry nothing beyond what is."""
        self._seen.update(keys)

    def raw(self, key: str) -> Any:
        self._seen.add(key)
        return self.obj.get(key)

    def text(self, key: str, ident: bool = True) -> str | None:
        return to_text(self.raw(key), self.name(key), ident)

    def integer(self, key: str, count: bool = True) -> int | None:
        return to_int(self.raw(key), self.name(key), count)

    def number(self, key: str) -> float | None:
        return to_float(self.raw(key), self.name(key))

    def flag(self, key: str) -> bool | None:
        return to_bool(self.raw(key), self.name(key))

    def json(self, key: str) -> Any:
        """A value that may be JSON-encoded text (CSV cells): parsed if so."""
        return maybe_json(self.raw(key), self.name(key))

    def array(self, key: str) -> list[Any] | None:
        value = self.json(key)
        if _absent(value):
            return None
        if not isinstance(value, list):
            raise Unmappable(f"{self.name(key)}: expected an array, got {type_name(value)}")
        return value

    def sub(self, key: str) -> Fields | None:
        """A nested object, itself tracked (its unread keys are reported with its path)."""
        value = self.json(key)
        if _absent(value) or value == {}:
            return None
        if not isinstance(value, dict):
            raise Unmappable(f"{self.name(key)}: expected an object, got {type_name(value)}")
        child = Fields(value, self.name(key))
        self._children.append(child)
        return child

    def unmapped(self) -> list[str]:
        names = [
            self.name(k) for k, v in self.obj.items() if k not in self._seen and v not in (None, "")
        ]
        for child in self._children:
            names.extend(child.unmapped())
        return names


# -- account choice -----------------------------------------------------------------------------
def parse_sources(
    setting: str, text: str, allowed: Sequence[str], prefixed: Sequence[str] = ()
) -> list[str]:
    """A comma-separated preference list such as ``team,user,key``; ``prefixed`` names the
    choices that take an argument (``attribute:user.org``). UsageError names what is allowed."""
    choices = [c.strip() for c in text.split(",") if c.strip()]
    bad = [
        c
        for c in choices
        if c not in allowed
        and not any(c.startswith(p + ":") and len(c) > len(p) + 1 for p in prefixed)
    ]
    if not choices or bad:
        shown = ", ".join([*allowed, *(p + ":NAME" for p in prefixed)])
        raise UsageError(
            f"setting {setting}: {', '.join(bad) or 'empty'} is not a source of account_id; "
            f"use one or more of {shown}, comma-separated, first present wins"
        )
    return choices


def pick_account(order: Sequence[str], lookup: Callable[[str], tuple[str, str | None]]) -> str:
    """The first present source of ``order``; ``lookup(choice)`` gives (source field name,
    value). Unmappable, naming every field looked at, when none is present."""
    looked: list[str] = []
    for choice in order:
        where, value = lookup(choice)
        if value:
            return value
        looked.append(where)
    raise Unmappable(f"no account_id: none of {', '.join(looked)} present")


# -- status ---------------------------------------------------------------------------------------
_HTTP_STATUS = {
    400: "invalid_request",
    401: "authentication_error",
    403: "permission_denied",
    404: "not_found",
    408: "timeout",
    413: "request_too_large",
    422: "invalid_request",
    429: "rate_limited",
    500: "server_error",
    502: "server_error",
    503: "overloaded",
    504: "timeout",
    529: "overloaded",
}
_ERROR_TYPES = {
    "invalid_request_error": "invalid_request",
    "authentication_error": "authentication_error",
    "permission_error": "permission_denied",
    "not_found_error": "not_found",
    "request_too_large": "request_too_large",
    "rate_limit_error": "rate_limited",
    "rate_limit_exceeded": "rate_limited",
    "insufficient_quota": "rate_limited",
    "api_error": "server_error",
    "server_error": "server_error",
    "overloaded_error": "overloaded",
    "timeout_error": "timeout",
}
STATUS_HTTP = {
    "ok": 200,
    "invalid_request": 400,
    "authentication_error": 401,
    "permission_denied": 403,
    "not_found": 404,
    "timeout": 408,
    "request_too_large": 413,
    "rate_limited": 429,
    "server_error": 500,
    "overloaded": 529,
}


def status_from_http(code: int | None) -> str | None:
    if code is None:
        return None
    if 200 <= code < 300:
        return "ok"
    return _HTTP_STATUS.get(code, f"http_{code}")


def status_from_error_type(kind: str | None) -> str | None:
    if not kind:
        return None
    return _ERROR_TYPES.get(kind, kind)


def http_from_status(status: str | None) -> int | None:
    if status is None:
        return None
    if status.startswith("http_") and status[5:].isdigit():
        return int(status[5:])
    return STATUS_HTTP.get(status, 500)


ERROR_TYPE_OF = {v: k for k, v in reversed(list(_ERROR_TYPES.items()))}


def compact(row: dict[str, Any]) -> dict[str, Any]:
    """A row without its NULL columns."""
    return {k: v for k, v in row.items() if v is not None}


# -- the adapter contract -------------------------------------------------------------------------
REQUIRED = ("event_id", "ts", "account_id", "model")


class Dialect:
    """One log dialect's adapter. Subclasses set the class attributes and write ``_map`` (one
    source object → MappedRecord, raising Unmappable for a record it cannot map) and
    ``_score`` (how surely one parsed record is of this dialect, 0 to 1).

    ``account_from`` is the preference list of account_id sources (the setting
    ``<name>_account_from``); ``sources`` says, per required column, where it comes from, for
    quarantine reasons.
    """

    name: str = ""
    setting: str = ""
    account_choices: tuple[str, ...] = ()
    account_prefixed: tuple[str, ...] = ()
    default_account: str = ""
    sources: ClassVar[dict[str, str]] = {}

    def __init__(self, account_from: str | None = None) -> None:
        self.account_order = parse_sources(
            self.setting,
            account_from or self.default_account,
            self.account_choices,
            self.account_prefixed,
        )

    def detect(self, sample: Sequence[Any]) -> float:
        """Mean confidence over a sample of records (text or parsed), 0 to 1."""
        scores = []
        for record in sample:
            try:
                obj = load_json(record) if isinstance(record, str | bytes) else record
            except Unmappable:
                scores.append(0.0)
                continue
            scores.append(self._score(obj) if isinstance(obj, dict) else 0.0)
        return sum(scores) / len(scores) if scores else 0.0

    def map(self, record: Any) -> MappedRecord:
        """One source record (a JSON object, its text, or a CSV row as a dict of text)."""
        try:
            return self._map(as_object(record))
        except Unmappable as exc:
            return quarantine(exc.reason)

    def _map(self, obj: dict[str, Any]) -> MappedRecord:
        raise NotImplementedError

    def _score(self, obj: dict[str, Any]) -> float:
        raise NotImplementedError

    def finish(self, row: dict[str, Any]) -> dict[str, Any]:
        """The row without NULL columns; Unmappable when a required column has no value."""
        for column in REQUIRED:
            if row.get(column) in (None, ""):
                where = self.sources.get(column, "")
                raise Unmappable(f"no {column}" + (f": {where} missing" if where else ""))
        return compact(row)
