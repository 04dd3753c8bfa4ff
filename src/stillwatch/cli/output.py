"""How every command prints: ``--format table`` for people, ``--format json`` for machines."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.table import Table


class Format(StrEnum):
    table = "table"
    json = "json"


console = Console()
err_console = Console(stderr=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def emit_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(_jsonable(payload), indent=2, ensure_ascii=False) + "\n")


def rows_table(
    title: str, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None
) -> Table:
    cols = list(columns) if columns is not None else (list(rows[0].keys()) if rows else [])
    table = Table(title=title, title_justify="left")
    for c in cols:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(*("" if r.get(c) is None else str(r.get(c)) for c in cols))
    return table


def emit(payload: Any, fmt: Format, render: Any = None) -> None:
    """Print ``payload`` as JSON, or call ``render(payload)`` for the table form."""
    if fmt == Format.json:
        emit_json(payload)
    elif render is not None:
        render(payload)
    else:
        console.print(payload)
