"""The content digest of a row: what tells a duplicate (same content) from a conflict (other
content under the same key).

Each value is written as its length, a colon and its text, and NULL as ``~``, before the whole
is hashed: a value holding a separator, or the text ``"\\u0000"`` beside NULL, can never make two
different rows look the same (a separator-joined digest could). md5 is used only as a checksum
here, because it gives the same answer on every engine.
"""

from __future__ import annotations

from collections.abc import Iterable


def row_digest(values: Iterable[str]) -> str:
    """SQL of the digest of a row whose canonical values are the SQL expressions ``values``."""
    parts = []
    for v in values:
        text = f"CAST({v} AS VARCHAR)"
        parts.append(f"coalesce(CAST(length({text}) AS VARCHAR) || ':' || {text}, '~')")
    return f"md5(concat({', '.join(parts)}))"
