"""Options shared by the commands, and opening the store with resolved settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stillwatch.cli.output import Format
from stillwatch.engine.store import Store, open_store
from stillwatch.settings import Resolved, resolve

StoreOption = Annotated[
    Path | None,
    typer.Option("--store", help="DuckDB store file [setting: store, env STILLWATCH_STORE]"),
]
FormatOption = Annotated[
    Format, typer.Option("--format", help="table for people, json for machines")
]


def settings(**flags: object) -> Resolved:
    return resolve({k: v for k, v in flags.items() if v is not None})


def store_from(resolved: Resolved, *, create: bool = False) -> Store:
    return open_store(
        resolved.store,
        create=create,
        memory_limit=resolved.memory_limit,
        threads=resolved.threads,
    )
