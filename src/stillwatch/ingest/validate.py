"""Row validation as SQL: each canonical column gets a value and an error expression.

The expressions depend on the type the file gave the column (text from CSV and JSON, typed
values from Parquet), so a Parquet file with a proper timestamp column pays nothing for
parsing while a CSV file gets the full checks. A row with any error is quarantined with all
of its errors joined in one reason.
"""

from __future__ import annotations

from stillwatch.ipnet import IPV4_PATTERN
from stillwatch.schema import TEXT_COLUMNS, Column, Table

_INT_TYPES = {
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
    "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT",
}  # fmt: skip
_FLOAT_TYPES = {"FLOAT", "DOUBLE", "REAL"}
_TS_NAIVE = {"TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATE"}
_HAS_ZONE = r"[0-9]:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?\s*([zZ]|[+-][0-9]{2}(:?[0-9]{2})?|UTC|GMT)$"
_TS_MIN_MS, _TS_MAX_MS = -2208988800000, 7258118400000  # 1900-01-01 .. 2200-01-01
EXCERPT = 60


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _show(expr: str) -> str:
    """A value excerpt for an error message."""
    return f"left(CAST({expr} AS VARCHAR), {EXCERPT})"


def _text_checks(col: Column, s: str) -> tuple[str, str]:
    """(value, error) for a column given as text ``s`` (NULL = absent)."""
    n = col.name
    t = f"trim({s})"
    if col.kind == "string":
        return s, "NULL"
    if col.kind == "int":
        value = f"CASE WHEN regexp_full_match({t}, '[+-]?[0-9]+') THEN TRY_CAST({t} AS BIGINT) END"
        return (
            value,
            f"CASE WHEN {s} IS NOT NULL AND ({value}) IS NULL THEN {_lit(n + ': not an integer: ')} || {_show(s)} END",
        )
    if col.kind == "float":
        value = f"TRY_CAST({t} AS DOUBLE)"
        return (
            value,
            f"CASE WHEN {s} IS NOT NULL AND {value} IS NULL THEN {_lit(n + ': not a number: ')} || {_show(s)} END",
        )
    if col.kind == "bool":
        value = (
            f"CASE WHEN lower({t}) IN ('true', 't', '1', 'yes') THEN true "
            f"WHEN lower({t}) IN ('false', 'f', '0', 'no') THEN false END"
        )
        return (
            value,
            f"CASE WHEN {s} IS NOT NULL AND ({value}) IS NULL THEN {_lit(n + ': not true/false: ')} || {_show(s)} END",
        )
    if col.kind == "timestamp":
        value = (
            f"CASE WHEN regexp_full_match({t}, '-?[0-9]{{1,15}}') THEN "
            f"CASE WHEN CAST({t} AS BIGINT) BETWEEN {_TS_MIN_MS} AND {_TS_MAX_MS} "
            f"THEN epoch_ms(CAST({t} AS BIGINT)) END "
            f"ELSE timezone('UTC', TRY_CAST({t} AS TIMESTAMPTZ)) END"
        )
        error = f"CASE WHEN {s} IS NOT NULL AND ({value}) IS NULL THEN {_lit(n + ': not a timestamp (RFC 3339 or epoch ms): ')} || {_show(s)} END"
        return value, error
    if col.kind == "ip":
        # The Python check runs only on rows holding a colon (IPv6), never on the IPv4 bulk.
        valid = (
            f"(CASE WHEN regexp_full_match({t}, {_lit(IPV4_PATTERN)}) THEN true "
            f"WHEN contains({s}, ':') THEN coalesce(sw_is_ip({t}), false) ELSE false END)"
        )
        return (
            f"CASE WHEN {valid} THEN {t} END",
            f"CASE WHEN {s} IS NOT NULL AND NOT {valid} THEN {_lit(n + ': not an IP address or CIDR prefix: ')} || {_show(s)} END",
        )
    raise AssertionError(col.kind)


def naive_timestamp(col: Column, src: str, src_type: str) -> str:
    """True where a timestamp was given without a time zone (accepted as UTC, counted)."""
    if src_type in _TS_NAIVE:
        return f"({src} IS NOT NULL)"
    if src_type in ("VARCHAR", "JSON"):
        s = src
        return (
            f"({s} IS NOT NULL AND NOT regexp_full_match(trim({s}), '-?[0-9]{{1,15}}') "
            f"AND NOT regexp_matches(trim({s}), {_lit(_HAS_ZONE)}))"
        )
    return "false"


def column_checks(
    col: Column, src: str | None, src_type: str | None, json_type: str = ""
) -> tuple[str, str]:
    """(value, error) SQL for canonical column ``col`` read from ``src`` of DuckDB ``src_type``.

    A JSON value comes as its text (``src``, type ``JSON``) and its JSON type (``json_type``),
    both extracted from the line in one parse each.
    """
    n = col.name
    if src is None or src_type is None:
        value, error = "NULL", "NULL"
    elif src_type == "VARCHAR":
        value, error = _text_checks(col, src)
    elif src_type == "JSON":
        value, error = _text_checks(col, src)
        allowed = {
            "string": "('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE', 'NULL')",
            "bool": "('BOOLEAN', 'VARCHAR', 'BIGINT', 'UBIGINT', 'NULL')",
        }.get(col.kind, "('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE', 'NULL')")
        gate = f"coalesce({json_type}, 'NULL') NOT IN {allowed}"
        value = f"CASE WHEN {gate} THEN NULL ELSE {value} END"
        error = (
            f"CASE WHEN {gate} THEN {_lit(n + ': wrong type, got ')} || lower({json_type}) "
            f"ELSE {error} END"
        )
    elif src_type == "BLOB":
        value, error = _text_checks(col, f"try(decode({src}))")
        error = f"CASE WHEN {src} IS NOT NULL AND try(decode({src})) IS NULL THEN {_lit(n + ': not UTF-8 text')} ELSE {error} END"
    else:
        value, error = _typed_checks(col, src, src_type)
    if col.required:
        missing = f"{_lit('missing ' + n)}"
        empty = f" OR trim(CAST({value} AS VARCHAR)) = ''" if col.kind == "string" else ""
        error = f"CASE WHEN ({error}) IS NOT NULL THEN {error} WHEN ({value}) IS NULL{empty} THEN {missing} END"
    return value, error


def _typed_checks(col: Column, src: str, src_type: str) -> tuple[str, str]:
    n = col.name
    base = src_type.split("(")[0]
    numeric = base in _INT_TYPES or base in _FLOAT_TYPES or base == "DECIMAL"
    wrong = f"CASE WHEN {src} IS NOT NULL THEN {_lit(f'{n}: wrong type {src_type}')} END"
    if col.kind == "string" and (numeric or base == "BOOLEAN"):
        return f"CAST({src} AS VARCHAR)", "NULL"
    if col.kind in ("int", "float") and numeric:
        if col.kind == "float":
            return f"CAST({src} AS DOUBLE)", "NULL"
        if base in _INT_TYPES:
            value = f"TRY_CAST({src} AS BIGINT)"
        else:
            value = f"CASE WHEN {src} = trunc({src}) THEN TRY_CAST({src} AS BIGINT) END"
        return (
            value,
            f"CASE WHEN {src} IS NOT NULL AND ({value}) IS NULL THEN {_lit(n + ': not an integer: ')} || {_show(src)} END",
        )
    if col.kind == "bool":
        if base == "BOOLEAN":
            return src, "NULL"
        if base in _INT_TYPES:
            value = f"CASE WHEN {src} = 1 THEN true WHEN {src} = 0 THEN false END"
            return (
                value,
                f"CASE WHEN {src} IS NOT NULL AND ({value}) IS NULL THEN {_lit(n + ': not true/false: ')} || {_show(src)} END",
            )
    if col.kind == "timestamp":
        if base in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"):
            return f"timezone('UTC', {src})", "NULL"
        if base in _TS_NAIVE:
            return f"CAST({src} AS TIMESTAMP)", "NULL"
        if base in _INT_TYPES:
            value = f"CASE WHEN {src} BETWEEN {_TS_MIN_MS} AND {_TS_MAX_MS} THEN epoch_ms(CAST({src} AS BIGINT)) END"
            return (
                value,
                f"CASE WHEN {src} IS NOT NULL AND ({value}) IS NULL THEN {_lit(n + ': epoch ms out of range: ')} || {_show(src)} END",
            )
    return "NULL", wrong


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
