"""Row validation as SQL: each canonical column gets a value and an error expression.

The expressions depend on the type the file gave the column (text from CSV and JSON, typed
values from Parquet), so a Parquet file with a proper timestamp column pays nothing for
parsing while a CSV file gets the full checks. A row with any error is quarantined with all
of its errors joined in one reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stillwatch.engine.digest import row_digest
from stillwatch.engine.store import sql_literal
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
# The enforcement verbs the schema lists; others are kept as given and counted.
ACTIONS = "('suspend', 'ban', 'throttle', 'challenge', 'reinstate')"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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
        f"CASE WHEN {s} IS NOT NULL AND {v} IS NULL THEN {sql_literal(message)} || {_show(s)} END"
    )


def _text_checks(col: Column, s: str) -> Check:
    """A column given as text ``s`` (NULL = absent). Fast paths first: most rows are clean.

    Empty text is absent, as CSV cannot tell the two apart.
    """
    n = col.name
    s = f"nullif({s}, '')"
    if col.kind == "string":
        return Check(s, _no_error)
    if col.kind == "int":
        # Plain decimal digits only: DuckDB's cast would also take 0x1F, 1_000 and 1e3, and
        # round 1.5. The round trip is the fast path; the pattern runs only where it fails.
        cast = f"TRY_CAST({s} AS BIGINT)"
        value = (
            f"CASE WHEN CAST({cast} AS VARCHAR) = {s} THEN {cast} "
            f"WHEN regexp_full_match({s}, '\\s*-?[0-9]+\\s*') THEN TRY_CAST(trim({s}) AS BIGINT) END"
        )
        return Check(value, _counted(s, n))
    if col.kind == "float":
        cast = f"TRY_CAST({s} AS DOUBLE)"
        value = (
            f"CASE WHEN isfinite({cast}) AND regexp_full_match({s}, {sql_literal(_DECIMAL)}) "
            f"THEN {cast} END"
        )
        return Check(value, _failed(s, f"{n}: not a finite decimal number: "))
    if col.kind == "bool":
        t = f"lower(trim({s}))"
        value = (
            f"CASE WHEN {s} = 'true' THEN true WHEN {s} = 'false' THEN false "
            f"WHEN {t} IN ('true', 't', '1', 'yes') THEN true "
            f"WHEN {t} IN ('false', 'f', '0', 'no') THEN false END"
        )
        return Check(value, _failed(s, f"{n}: not true/false: "))
    if col.kind == "timestamp":
        # RFC 3339 text (a named zone too) first; failing that, the same with its "t" and
        # "z" upper-cased; failing that, integer epoch milliseconds. Words DuckDB would take
        # ("epoch", "infinity") and negative years do not start with a digit; offsets beyond
        # ±18:00 and instants outside 1900-2200 are refused.
        epoch = f"TRY_CAST({s} AS BIGINT)"
        parsed = (
            f"coalesce(timezone('UTC', TRY_CAST({s} AS TIMESTAMPTZ)), "
            f"timezone('UTC', TRY_CAST(upper({s}) AS TIMESTAMPTZ)), "
            f"CASE WHEN NOT contains({s}, '.') AND {epoch} BETWEEN {_TS_MIN_MS} AND {_TS_MAX_MS} "
            f"THEN epoch_ms({epoch}) END)"
        )
        value = (
            f"CASE WHEN left(ltrim({s}), 1) BETWEEN '0' AND '9' AND NOT ({_big_offset(s)}) "
            f"THEN {_in_range(parsed)} END"
        )
        return Check(
            value,
            _failed(s, f"{n}: not a timestamp (RFC 3339 or epoch ms, 1900-2200): "),
        )
    if col.kind == "ip":
        # The Python check runs only on rows holding a colon (IPv6), never on the IPv4 bulk.
        t = f"trim({s})"
        value = (
            f"CASE WHEN regexp_full_match({t}, {sql_literal(IPV4_PATTERN)}) THEN {t} "
            f"WHEN contains({s}, ':') AND coalesce(sw_is_ip({t}), false) THEN {t} END"
        )
        return Check(value, _failed(s, f"{n}: not an IP address or CIDR prefix: "))
    raise AssertionError(col.kind)


# A float given as text: decimal or exponent notation (no hex, no digit separators).
_DECIMAL = r"\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*"
_TS_LOW, _TS_HIGH = "TIMESTAMP '1900-01-01'", "TIMESTAMP '2200-01-01'"


def _in_range(v: str) -> str:
    return f"CASE WHEN {v} >= {_TS_LOW} AND {v} < {_TS_HIGH} THEN {v} END"


def _big_offset(s: str) -> str:
    """True where the text ends in a numeric offset beyond ±18:00 (``+25:00`` shifted the
    time by 25 h). Only the last six characters are looked at."""
    tail = f"right(rtrim({s}), 6)"
    hours = f"TRY_CAST(regexp_extract({tail}, '[+-]([0-9]{{2}}):?[0-9]{{2}}$', 1) AS INTEGER)"
    return f"(contains({tail}, '+') OR contains({tail}, '-')) AND coalesce({hours} > 18, false)"


def _counted(src: str, n: str) -> Callable[[str], str]:
    """Error of a count (every integer column is one): not an integer, or negative."""
    return lambda v: (
        f"CASE WHEN {src} IS NOT NULL AND {v} IS NULL "
        f"THEN {sql_literal(n + ': not an integer: ')} || {_show(src)} "
        f"WHEN {v} < 0 THEN {sql_literal(n + ': negative: ')} || {_show(src)} END"
    )


def naive_timestamp(col: Column, src: str, src_type: str) -> str:
    """True where a timestamp was given without a time zone (accepted as UTC, counted)."""
    if src_type in _TS_NAIVE:
        return f"({src} IS NOT NULL)"
    if src_type in ("VARCHAR", "JSON"):
        # Only the end of the text can hold a zone: look at its last characters alone.
        tail = f"right(rtrim({src}), 8)"
        return (
            f"({src} IS NOT NULL AND NOT (right(rtrim({src}), 1) IN ('Z', 'z') "
            f"OR (contains({src}, ':') AND regexp_matches({tail}, {sql_literal(_ZONE_TAIL)})) "
            f"OR {named_zone(src, src_type)} "
            f"OR TRY_CAST({src} AS BIGINT) IS NOT NULL))"
        )
    return "false"


def named_zone(src: str, src_type: str) -> str:
    """True where a timestamp names its zone (``… America/New_York``, ``… CET``): converted
    by the zone's rules, counted in the warnings of its own."""
    if src_type not in ("VARCHAR", "JSON"):
        return "false"
    last = f"right(rtrim({src}), 1)"
    return (
        f"({src} IS NOT NULL AND regexp_matches({last}, '[A-Ya-y]') "
        f"AND NOT regexp_matches(rtrim({src}), '(UTC|GMT)$'))"
    )


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
            wrong = f"{sql_literal(n + ': wrong type, got ')} || lower({json_type})"
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
                f"CASE WHEN {bad} THEN {sql_literal(n + ': not UTF-8 text')} ELSE {text_error(v)} END"
            ),
        )
    else:
        check = _typed_checks(col, src, src_type)
    if not col.required:
        return check
    inner = check.error
    missing = sql_literal("missing " + n)

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
        value = f"CASE WHEN isfinite(CAST({src} AS DOUBLE)) THEN CAST({src} AS DOUBLE) END"
        return Check(value, _failed(src, f"{n}: not a finite number: "))
    if col.kind == "int" and numeric:
        if base in _INT_TYPES:
            value = f"TRY_CAST({src} AS BIGINT)"
        else:  # pandas writes an integer column with missing values as floats
            value = (
                f"CASE WHEN isfinite(CAST({src} AS DOUBLE)) AND {src} = trunc({src}) "
                f"THEN TRY_CAST({src} AS BIGINT) END"
            )
        return Check(value, _counted(src, n))
    if col.kind == "bool" and base == "BOOLEAN":
        return Check(src, _no_error)
    if col.kind == "bool" and base in _INT_TYPES:
        value = f"CASE WHEN {src} = 1 THEN true WHEN {src} = 0 THEN false END"
        return Check(value, _failed(src, f"{n}: not true/false: "))
    if col.kind == "timestamp":
        out_of_range = _failed(src, f"{n}: outside 1900-2200: ")
        if base in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"):
            return Check(_in_range(f"timezone('UTC', {src})"), out_of_range)
        if base in _TS_NAIVE:
            return Check(_in_range(f"CAST({src} AS TIMESTAMP)"), out_of_range)
        if base in _INT_TYPES:
            value = (
                f"CASE WHEN {src} BETWEEN {_TS_MIN_MS} AND {_TS_MAX_MS} "
                f"THEN epoch_ms(CAST({src} AS BIGINT)) END"
            )
            return Check(value, _failed(src, f"{n}: epoch ms out of range: "))
    wrong = sql_literal(f"{n}: wrong type {src_type}")
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
    """A stable content hash of a row's canonical values (see :mod:`stillwatch.engine.digest`)."""
    return row_digest(values[c.name] for c in table.columns)
