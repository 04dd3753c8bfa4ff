"""Prompt skeletons: a template's frame with its slot content masked.

Two requests built from one template with different slot content share a skeleton: numbers,
identifiers, quoted strings, code blocks, file paths, URLs, e-mail addresses, capitalised
names inside a sentence, and long pasted content are replaced by placeholders (``<num>``,
``<id>``, ``<str>``, ``<code>``, ``<path>``, ``<url>``, ``<email>``, ``<name>``, ``<long>``);
a prompt over ``CUT_CHARS`` characters keeps its first and last ``KEEP_CHARS`` (the middle is
pasted content) around a ``<cut>`` line; blanks are collapsed and letters lower-cased.
Masking is idempotent: the skeleton of a skeleton is itself.

The rules are written once, in the regular-expression dialect shared by Python's ``re`` and
DuckDB's RE2 (no look-around, no ``\\w``/``\\d``, which differ in Unicode), so the same
skeleton comes from :func:`skeleton` (one text, Python) and from :func:`skeleton_select` /
:func:`skeletons` (a column, vectorised inside DuckDB, the fast path).

Catches: templates whose slots are numbers, names, code, quoted or pasted text, in English or
Chinese. Misses: slots of plain words ("write a poem about {topic}") — the frame miner's
prefix and suffix keys and the MinHash view cover those — and Chinese names or numerals
written in characters. False friends: a capitalised word inside a sentence that belongs to the
frame ("written in Python") is masked as a name, in every fill alike, so fills still agree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from stillwatch.engine.store import scratch_connection, sql_literal

LONG_LINE_CHARS = 400
# A masked character grows at most 5x ("7" -> "<num>"), so a cut prompt's kept ends, even if
# their <cut> line is swallowed by an open code block, never exceed CUT_CHARS again.
CUT_CHARS = 3000
KEEP_CHARS = 600
CUT_MARK = "<cut>"

# (pattern, replacement, guard) in order. A rule runs only where its guard holds: one of the
# guard's substrings is in the text. Each guard is a necessary condition for its pattern to
# match, so it changes no result, but most prompts skip most rules. Replacements use \1 for a
# kept prefix (both dialects).
Guard = tuple[str, ...] | None
RULES: tuple[tuple[str, str, Guard], ...] = (
    (r"```[\s\S]*?```", "<code>", ("```",)),
    (r"```[\s\S]*", "<code>", ("```",)),
    (r"\"[^\"\n]+\"", "<str>", ('"',)),
    (r"[“「『‘][^”」』’\n]+[”」』’]", "<str>", ("“", "「", "『", "‘")),
    (r"(^|[^A-Za-z0-9>])'[^'\n]+'", r"\1<str>", ("'",)),
    (r"`[^`\n]+`", "<str>", ("`",)),
    # Quote marks left unpaired (apostrophes, triple quotes) go, so no later pass pairs them.
    (r"[\"'`“”「」『』‘’]", "", ('"', "'", "`", "“", "”", "「", "」", "『", "』", "‘", "’")),
    (
        r"(?:[Hh][Tt][Tt][Pp][Ss]?|[Ff][Tt][Pp])://[^ \t\r\n<>\"']+"
        r"|[Ww][Ww][Ww]\.[^ \t\r\n<>\"']+",
        "<url>",
        ("://", "ww.", "WW.", "wW.", "Ww."),
    ),
    (r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}", "<email>", ("@",)),
    (r"(?:[A-Za-z]:)?(?:[/\\][A-Za-z0-9._-]+){2,}[/\\]?", "<path>", ("/", "\\")),
    (
        r"[A-Za-z]+[_0-9][A-Za-z0-9_]*|[a-z]+[A-Z][A-Za-z0-9]*|[0-9]+[A-Za-z_][A-Za-z0-9_]*"
        r"|_[A-Za-z0-9_]+",
        "<id>",
        None,
    ),
    (r"[0-9]+(?:[.,:][0-9]+)*", "<num>", tuple("0123456789")),
    (r"([a-z,;:] )[A-Z][a-z]+(?: [A-Z][a-z]+)*", r"\1<name>", None),
)
# Applied after the long-line step: runs of blanks become one space (a lone space is left
# alone: same result, far fewer replacements), blank lines and spaces around newlines go. The
# guards name the only substrings that let a rule change anything, so text already clean (most
# prompts, and every skeleton on its second pass) skips the regular expressions.
BLANK_RULES: tuple[tuple[str, str, Guard], ...] = (
    (r"[ \t\r\f\v]*[\t\r\f\v][ \t\r\f\v]*| {2,}", " ", ("\t", "\r", "\f", "\v", "  ")),
    (r" ?\n[ \n]*", "\n", (" \n", "\n ", "\n\n")),
)
_COMPILED = tuple((re.compile(p), r, g) for p, r, g in RULES)
_COMPILED_BLANK = tuple((re.compile(p), r, g) for p, r, g in BLANK_RULES)


def _apply(text: str, rules: Sequence[tuple[re.Pattern[str], str, Guard]]) -> str:
    for pattern, replacement, guard in rules:
        if guard is None or any(g in text for g in guard):
            text = pattern.sub(replacement, text)
    return text


def _cut(text: str) -> str:
    if len(text) > CUT_CHARS and CUT_MARK not in text:
        return text[:KEEP_CHARS] + "\n" + CUT_MARK + "\n" + text[-KEEP_CHARS:]
    return text


def skeleton(text: str) -> str:
    """The skeleton of one prompt (see the module docstring)."""
    text = _apply(_cut(text), _COMPILED)
    if len(text) >= LONG_LINE_CHARS:
        text = "\n".join(
            "<long>" if len(line) >= LONG_LINE_CHARS else line for line in text.split("\n")
        )
    text = _apply(text, _COMPILED_BLANK).strip(" \n").lower()
    # Masks can lengthen a prompt just under the cut past it; cut again so that a skeleton
    # is never cut by the next pass (idempotence).
    return _apply(_cut(text), _COMPILED_BLANK).strip(" \n")


def _guard_sql(guard: Guard) -> str:
    if guard is None:
        return "true"
    return " OR ".join(f"contains(s, {sql_literal(g)})" for g in guard)


def _rule_steps(rules: Sequence[tuple[str, str, Guard]], only: str | None = None) -> list[str]:
    """One projection per rule; ``only``, a further necessary condition (SQL) for every rule."""
    steps = []
    for pattern, replacement, guard in rules:
        step = f"regexp_replace(s, {sql_literal(pattern)}, {sql_literal(replacement)}, 'g')"
        when = " AND ".join(
            f"({c})" for c in (only, None if guard is None else _guard_sql(guard)) if c
        )
        steps.append(f"CASE WHEN {when} THEN {step} ELSE s END" if when else step)
    return steps


def skeleton_select(source: str, text_column: str, carry: Sequence[str] = ()) -> str:
    """A DuckDB query over ``source`` (a table name or a parenthesised query) giving the
    columns ``carry`` and ``skeleton``, the skeleton of ``text_column`` (NULL stays NULL).

    Each step is one projection over the previous one, so no step's input is computed twice.
    """
    keep = "".join(f'"{c}", ' for c in carry)
    # strlen (bytes, constant time) is never below length (characters, a pass over the
    # text): most prompts are ruled out by it without counting their characters
    cut = (
        f"CASE WHEN strlen(s) > {CUT_CHARS} AND length(s) > {CUT_CHARS} "
        f"AND NOT contains(s, '{CUT_MARK}') "
        f"THEN left(s, {KEEP_CHARS}) || chr(10) || '{CUT_MARK}' || chr(10) || right(s, {KEEP_CHARS}) "
        "ELSE s END"
    )
    long_lines = (
        f"CASE WHEN strlen(s) >= {LONG_LINE_CHARS} AND length(s) >= {LONG_LINE_CHARS} "
        "THEN array_to_string(list_transform("
        f"string_split(s, chr(10)), lambda x: CASE WHEN length(x) >= {LONG_LINE_CHARS} "
        "THEN '<long>' ELSE x END), chr(10)) ELSE s END"
    )
    ends = (
        "(starts_with(s, ' ') OR starts_with(s, chr(10)) OR ends_with(s, ' ') "
        "OR ends_with(s, chr(10)))"
    )
    strip = f"CASE WHEN {ends} THEN trim(s, ' ' || chr(10)) ELSE s END"
    blanks = _rule_steps(BLANK_RULES)
    # after the second cut, blanks and ends change only where it cut (the text was clean);
    # only a cut text holds the mark, so a text never cut skips the passes' guards
    cut_only = f"contains(s, '{CUT_MARK}')"
    recut = [*_rule_steps(BLANK_RULES, cut_only),
             f"CASE WHEN {cut_only} AND {ends} THEN trim(s, ' ' || chr(10)) ELSE s END"]  # fmt: skip
    steps = [cut, *_rule_steps(RULES), long_lines, *blanks, strip, "lower(s)", cut, *recut]
    query = f'SELECT {keep}"{text_column}" AS s FROM {source}'
    for step in steps:
        query = f"SELECT {keep}{step} AS s FROM ({query})"
    return f"SELECT {keep}s AS skeleton FROM ({query})"


def skeletons(texts: Sequence[str | None], con: Any = None) -> list[str | None]:
    """Skeletons of many prompts at once, computed inside DuckDB (None stays None)."""
    own = con is None
    db = scratch_connection() if own else con
    try:
        prompts = pa.table(  # noqa: F841 - read by DuckDB's replacement scan
            {
                "i": pa.array(range(len(texts)), pa.int64()),
                "prompt": pa.array(list(texts), pa.string()),
            }
        )
        query = skeleton_select("prompts", "prompt", carry=("i",))
        rows = db.execute(f"SELECT skeleton FROM ({query}) ORDER BY i").fetchall()
        return [r[0] for r in rows]
    finally:
        if own:
            db.close()
