"""A data-set folder (or in-memory tables) seen as DuckDB views for methods and the scorer.

A folder holds ``exchanges.*`` and optionally ``accounts.*``, ``enforcements.*`` and, for
simulated data, ``labels_accounts.*`` / ``labels_exchanges.*``; each as ``.parquet``,
``.jsonl`` or ``.csv`` (optionally ``.gz``), or a folder of such parts. Methods get a
:class:`Dataset`, which exposes only the canonical tables; the labels are read by
:mod:`stillwatch.bench.truth` alone, so no baseline can peek at the answers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from stillwatch.errors import InputError
from stillwatch.schema import CANONICAL, GROUND_TRUTH, STORE_TYPES, TEXT_COLUMNS, Table

_SUFFIXES = (".parquet", ".jsonl", ".jsonl.gz", ".csv", ".csv.gz")


def _table_files(folder: Path, name: str) -> list[Path]:
    """Files holding table ``name`` in ``folder``: one file, or the parts of a sub-folder."""
    for suffix in _SUFFIXES:
        single = folder / f"{name}{suffix}"
        if single.is_file():
            return [single]
    for part_dir in (folder / name, *(folder / f"{name}{s}" for s in _SUFFIXES)):
        if part_dir.is_dir():
            parts = sorted(
                p for p in part_dir.rglob("*") if p.is_file() and p.name.endswith(_SUFFIXES)
            )
            if parts:
                return parts
    return []


def _reader_sql(files: list[Path]) -> str:
    names = ", ".join("'" + str(p).replace("'", "''") + "'" for p in files)
    first = files[0].name
    if first.endswith(".parquet"):
        return f"read_parquet([{names}], union_by_name = true)"
    if first.endswith((".jsonl", ".jsonl.gz")):
        return f"read_json([{names}], format = 'newline_delimited', union_by_name = true)"
    return f"read_csv([{names}], header = true, union_by_name = true)"


def _canonical_select(
    table: Table, present: Mapping[str, str], source: str, withheld: tuple[str, ...] = ()
) -> str:
    """SELECT every declared column with its stored type; NULL where the source lacks it or
    the column is withheld (``--no-content``)."""
    exprs = []
    for col in table.columns:
        target = "TIMESTAMPTZ" if col.kind == "timestamp" else STORE_TYPES[col.kind]
        if col.name not in present or col.name in withheld:
            exprs.append(f"CAST(NULL AS {target}) AS {col.name}")
        elif col.kind == "timestamp" and present[col.name].upper() in {"BIGINT", "INTEGER"}:
            exprs.append(f"make_timestamptz({col.name} * 1000) AS {col.name}")
        elif col.kind == "timestamp" and present[col.name].upper() == "VARCHAR":
            exprs.append(f"CAST({col.name} AS TIMESTAMPTZ) AS {col.name}")
        else:
            exprs.append(f"CAST({col.name} AS {target}) AS {col.name}")
    return f"SELECT {', '.join(exprs)} FROM {source}"


@dataclass
class Dataset:
    """The canonical tables of one data set, as DuckDB views ``exchanges``, ``accounts``,
    ``enforcements`` (every declared column present, missing ones NULL, ``ts`` in UTC)."""

    sources: dict[str, str]
    folder: Path | None = None
    # Columns every method sees as NULL: the text columns under ``--no-content``.
    withheld: tuple[str, ...] = ()
    arrow_tables: dict[str, pa.Table] = field(default_factory=dict)
    _con: duckdb.DuckDBPyConnection | None = field(default=None, repr=False)

    @classmethod
    def from_folder(cls, folder: str | Path, no_content: bool = False) -> Dataset:
        """``no_content`` withholds ``prompt``, ``system_prompt`` and ``response`` (their
        ``prompt_sha256`` stays)."""
        folder = Path(folder)
        if not folder.is_dir():
            raise InputError(str(folder), "not a folder", "a data-set folder holding exchanges.*")
        sources: dict[str, str] = {}
        for name in CANONICAL:
            files = _table_files(folder, name)
            if files:
                sources[name] = _reader_sql(files)
        if "exchanges" not in sources:
            raise InputError(str(folder), "no exchanges table found", "exchanges.parquet or parts")
        return cls(sources=sources, folder=folder, withheld=TEXT_COLUMNS if no_content else ())

    @classmethod
    def from_tables(cls, **tables: pa.Table) -> Dataset:
        """An in-memory data set (tests, small planted cases)."""
        unknown = set(tables) - set(CANONICAL)
        if unknown:
            raise ValueError(f"tables must be among {sorted(CANONICAL)}; got {sorted(unknown)}")
        if "exchanges" not in tables:
            raise ValueError("an exchanges table is required")
        return cls(
            sources={n: f"_arrow_{n}" for n in tables},
            arrow_tables={f"_arrow_{n}": t for n, t in tables.items()},
        )

    def manifest(self) -> dict[str, Any]:
        if self.folder is None or not (self.folder / "manifest.json").is_file():
            return {}
        loaded: dict[str, Any] = json.loads((self.folder / "manifest.json").read_text())
        return loaded

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """A private in-memory DuckDB connection holding the canonical views."""
        if self._con is None:
            self._con = self._connect(CANONICAL)
        return self._con

    def _connect(self, tables: Mapping[str, Table]) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(":memory:")
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")
        for alias, arrow in self.arrow_tables.items():
            con.register(alias, arrow)
        for name, table in tables.items():
            source = self.sources.get(name)
            if source is None:
                present: dict[str, str] = {}
                source = "(SELECT 1 WHERE false)"
            else:
                described = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
                present = {row[0]: str(row[1]) for row in described}
            select = _canonical_select(table, present, source, self.withheld)
            con.execute(f"CREATE VIEW {name} AS {select}")
        return con

    def query(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        """Run SQL over the canonical views and return an Arrow table."""
        return self.con.sql(sql, params=params).to_arrow_table()

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None


def has_ground_truth(folder: str | Path) -> bool:
    """Does ``folder`` hold the simulator's ground truth (every ``GROUND_TRUTH`` table)?"""
    return all(_table_files(Path(folder), name) for name in GROUND_TRUTH)


def ground_truth_connection(folder: str | Path) -> duckdb.DuckDBPyConnection:
    """Views over the canonical tables plus ``labels_accounts`` / ``labels_exchanges``.

    For the scorer only: methods never receive this connection.
    """
    folder = Path(folder)
    dataset = Dataset.from_folder(folder)
    for name in GROUND_TRUTH:
        files = _table_files(folder, name)
        if not files:
            raise InputError(str(folder), f"no {name} table found", f"{name}.parquet or parts")
        dataset.sources[name] = _reader_sql(files)
    return dataset._connect({**CANONICAL, **GROUND_TRUTH})
