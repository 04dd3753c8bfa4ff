"""Row validation as SQL: each canonical column gets a value and an error expression.

The expressions depend on the type the file gave the column (text from CSV and JSON, typed
values from Parquet), so a Parquet file with a proper timestamp column pays nothing for
parsing while a CSV file gets the full checks. A row with any error is quarantined with all
of its errors joined in one reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stillwatch.ipnet import IPV4_PATTERN
from stillwatch.schema import TEXT_COLUMNS, Column, Table

_INT_TYPES = {
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
    "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT",
}  # fmt: skip
_FLOAT_TYPES = {"FLOAT", "DOUBLE", "REAL"}
_TS_NAIVE = {"TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATE"}
# The end of a timestamp that carries its zone: a numeric offset after the time, or a name.
_ZONE_TAIL = r"([0-9][+-][0-9]{2}(:?[0-9]{2})?|UTC|GMT)$"
_TS_MIN_MS, _TS_MAX_MS = -2208988800000, 7258118400000  # 1900-01-01 .. 2200-01-01
EXCERPT = 60


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _show(expr: str) -> str:
    """A value excerpt for an error message."""
    return f"left(CAST({expr} AS VARCHAR), {EXCERPT})"


@dataclass(frozen=True)
class Check:
    """How one canonical column is read: ``value`` SQL, and ``error(v)``, the SQL of the
    error given ``v``, a reference to the already computed value (so it is computed once)."""

    value: str
    error: Callable[[str], str]


def _no_error(_: str) -> str:
    return "NULL"


def _failed(s: str, message: str) -> Callable[[str], str]:
    """Error when the source ``s`` held something but no value came of it."""
    return lambda v: (
        f"CASE WHEN {s} IS NOT NULL AND {v} IS NULL THEN {_lit(message)} || {_show(s)} END"
    )


def _text_checks(col: Column, s: str) -> Check:
    """A column given as text ``s`` (NULL = absent). Fast paths first: most rows are clean."""
    n = col.name
    if col.kind == "string":
        return Check(s, _no_error)
    if col.kind == "int":
        # TRY_CAST rounds "1.5" to 2: a decimal point is refused before the cast.
        value = f"CASE WHEN NOT contains({s}, '.') THEN TRY_CAST({s} AS BIGINT) END"
        return Check(value, _failed(s, f"{n}: not an integer: "))
    if col.kind == "float":
        return Check(f"TRY_CAST({s} AS DOUBLE)", _failed(s, f"{n}: not a number: "))
    if col.kind == "bool":
        t = f"lower(trim({s}))"
        value = (
            f"CASE WHEN {s} = 'true' THEN true WHEN {s} = 'false' THEN false "
            f"WHEN {t} IN ('true', 't', '1', 'yes') THEN true "
            f"WHEN {t} IN ('false', 'f', '0', 'no') THEN false END"
        )
        return Check(value, _failed(s, f"{n}: not true/false: "))
    if col.kind == "timestamp":
        # RFC 3339 text first; failing that, integer epoch milliseconds in a sane range.
        epoch = f"TRY_CAST({s} AS BIGINT)"
        value = (
            f"coalesce(timezone('UTC', TRY_CAST({s} AS TIMESTAMPTZ)), "
            f"CASE WHEN NOT contains({s}, '.') AND {epoch} BETWEEN {_TS_MIN_MS} AND {_TS_MAX_MS} "
            f"THEN epoch_ms({epoch}) END)"
        )
        return Check(value, _failed(s, f"{n}: not a timestamp (RFC 3339 or epoch ms): "))
    if col.kind == "ip":
        # The Python check runs only on rows holding a colon (IPv6), never on the IPv4 bulk.
        t = f"trim({s})"
        value = (
            f"CASE WHEN regexp_full_match({t}, {_lit(IPV4_PATTERN)}) THEN {t} "
            f"WHEN contains({s}, ':') AND coalesce(sw_is_ip({t}), false) THEN {t} END"
        )
        return Check(value, _failed(s, f"{n}: not an IP address or CIDR prefix: "))
    raise AssertionError(col.kind)


def naive_timestamp(col: Column, src: str, src_type: str) -> str:
    """True where a timestamp was given without a time zone (accepted as UTC, counted)."""
    if src_type in _TS_NAIVE:
        return f"({src} IS NOT NULL)"
    if src_type in ("VARCHAR", "JSON"):
        # Only the end of the text can hold a zone: look at its last characters alone.
        tail = f"right(rtrim({src}), 8)"
        return (
            f"({src} IS NOT NULL AND NOT (right(rtrim({src}), 1) IN ('Z', 'z') "
            f"OR (contains({src}, ':') AND regexp_matches({tail}, {_lit(_ZONE_TAIL)})) "
            f"OR TRY_CAST({src} AS BIGINT) IS NOT NULL))"
        )
    return "false"


_JSON_ALLOWED = {
    "string": "('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE')",
    "ip": "('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE')",
    "bool": "('BOOLEAN', 'VARCHAR', 'BIGINT', 'UBIGINT')",
}


def column_checks(col: Column, src: str | None, src_type: str | None, json_type: str = "") -> Check:
    """How canonical column ``col`` is read from ``src`` of DuckDB type ``src_type``.

    A JSON value comes as its text (``src``, type ``JSON``); ``json_type`` is its JSON type,
    NULL where the line needed no type check (see the stage).
    """
    n = col.name
    if src is None or src_type is None:
        check = Check("NULL", _no_error)
    elif src_type in ("VARCHAR", "JSON"):
        check = _text_checks(col, src)
        if src_type == "JSON" and col.kind in _JSON_ALLOWED:
            text_error = check.error
            allowed = _JSON_ALLOWED[col.kind]
            gate = f"({json_type} NOT IN {allowed} AND {json_type} <> 'NULL')"
            wrong = f"{_lit(n + ': wrong type, got ')} || lower({json_type})"
            check = Check(
                check.value, lambda v: f"CASE WHEN {gate} THEN {wrong} ELSE {text_error(v)} END"
            )
    elif src_type == "BLOB":
        check = _text_checks(col, f"try(decode({src}))")
        text_error = check.error
        bad = f"{src} IS NOT NULL AND try(decode({src})) IS NULL"
        check = Check(
            check.value,
            lambda v: (
                f"CASE WHEN {bad} THEN {_lit(n + ': not UTF-8 text')} ELSE {text_error(v)} END"
            ),
        )
    else:
        check = _typed_checks(col, src, src_type)
    if not col.required:
        return check
    inner = check.error
    missing = _lit("missing " + n)

    def required(v: str) -> str:
        empty = f" OR trim({v}) = ''" if col.kind == "string" else ""
        return f"coalesce({inner(v)}, CASE WHEN {v} IS NULL{empty} THEN {missing} END)"

    return Check(check.value, required)


def _typed_checks(col: Column, src: str, src_type: str) -> Check:
    n = col.name
    base = src_type.split("(")[0]
    numeric = base in _INT_TYPES or base in _FLOAT_TYPES or base == "DECIMAL"
    if col.kind == "string" and (numeric or base == "BOOLEAN"):
        return Check(f"CAST({src} AS VARCHAR)", _no_error)
    if col.kind == "float" and numeric:
        return Check(f"CAST({src} AS DOUBLE)", _no_error)
    if col.kind == "int" and numeric:
        if base in _INT_TYPES:
            value = f"TRY_CAST({src} AS BIGINT)"
        else:
            value = f"CASE WHEN {src} = trunc({src}) THEN TRY_CAST({src} AS BIGINT) END"
        return Check(value, _failed(src, f"{n}: not an integer: "))
    if col.kind == "bool" and base == "BOOLEAN":
        return Check(src, _no_error)
    if col.kind == "bool" and base in _INT_TYPES:
        value = f"CASE WHEN {src} = 1 THEN true WHEN {src} = 0 THEN false END"
        return Check(value, _failed(src, f"{n}: not true/false: "))
    if col.kind == "timestamp":
        if base in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"):
            return Check(f"timezone('UTC', {src})", _no_error)
        if base in _TS_NAIVE:
            return Check(f"CAST({src} AS TIMESTAMP)", _no_error)
        if base in _INT_TYPES:
            value = (
                f"CASE WHEN {src} BETWEEN {_TS_MIN_MS} AND {_TS_MAX_MS} "
                f"THEN epoch_ms(CAST({src} AS BIGINT)) END"
            )
            return Check(value, _failed(src, f"{n}: epoch ms out of range: "))
    wrong = _lit(f"{n}: wrong type {src_type}")
    return Check("NULL", lambda v: f"CASE WHEN {src} IS NOT NULL THEN {wrong} END")


def text_limit(col: Column, value: str, max_bytes: int) -> tuple[str, str]:
    """(value, truncated flag) for prompt/system_prompt/response: cut past ``max_bytes``."""
    if col.name not in TEXT_COLUMNS:
        return value, "false"
    over = f"(strlen({value}) > {max_bytes})"
    return (
        f"CASE WHEN {over} THEN sw_truncate({value}, {max_bytes}) ELSE {value} END",
        f"coalesce({over}, false)",
    )


def raw_expression(sources: dict[str, str]) -> str:
    """A row's raw text (as JSON) for the quarantine, from the columns as the file gave them."""
    if not sources:
        return "'{}'"
    fields = ", ".join(f"{_q(name)} := {expr}" for name, expr in sources.items())
    return f"to_json(struct_pack({fields}))"


def row_hash(table: Table, values: dict[str, str]) -> str:
    """A stable content hash of a row's canonical values (md5: the same on every engine)."""
    parts = ", ".join(f"coalesce(CAST({values[c.name]} AS VARCHAR), chr(0))" for c in table.columns)
    return f"md5(concat_ws(chr(31), {parts}))"
