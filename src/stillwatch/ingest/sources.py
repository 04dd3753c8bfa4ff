"""Which files to read, as which table, in which format.

Paths may be files, globs or folders. A folder holding ``exchanges.*`` (and optionally
``accounts.*``, ``enforcements.*``, or folders of parts so named) is a data set; ground-truth
tables (``labels_*``) in it are never read: detectors must not see them.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

from stillwatch.errors import UsageError

FORMATS = ("parquet", "jsonl", "csv")
_SUFFIXES = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
}
TABLE_NAMES = ("exchanges", "accounts", "enforcements")
GROUND_TRUTH_PREFIX = "labels_"


@dataclass(frozen=True)
class SourceFile:
    path: Path
    table: str
    format: str
    gzip: bool


def _split_name(path: Path) -> tuple[str, str | None, bool]:
    """(stem, format or None, gzip) from a file name such as ``exchanges.jsonl.gz``."""
    name = path.name.lower()
    gz = name.endswith(".gz")
    if gz:
        name = name[:-3]
    for suffix, fmt in _SUFFIXES.items():
        if name.endswith(suffix):
            return name[: -len(suffix)], fmt, gz
    return name, None, gz


def _source(path: Path, table: str, fmt: str | None) -> SourceFile:
    _, guessed, gz = _split_name(path)
    chosen = fmt or guessed
    if chosen is None:
        raise UsageError(
            f"{path}: cannot tell the format from the name; name it .parquet, .jsonl or .csv "
            f"(optionally .gz), or pass --input-format {'|'.join(FORMATS)}"
        )
    return SourceFile(path, table, chosen, gz)


def _table_files(folder: Path, table: str) -> list[Path]:
    """Files of one table in a data-set folder: ``table.*`` or a folder ``table/`` of parts."""
    found = sorted(p for p in folder.iterdir() if p.is_file() and _split_name(p)[0] == table)
    parts = folder / table
    if parts.is_dir():
        found += sorted(p for p in parts.iterdir() if p.is_file() and _split_name(p)[1])
    return found


def _is_dataset(folder: Path) -> bool:
    return any(_table_files(folder, t) for t in TABLE_NAMES)


def _expand(arg: str) -> list[Path]:
    if any(c in arg for c in "*?["):
        matches = sorted(Path(p) for p in glob.glob(arg, recursive=True))
        if not matches:
            raise UsageError(f"{arg}: the pattern matches no file")
        return matches
    path = Path(arg)
    if not path.exists():
        raise UsageError(f"{arg}: no such file or folder")
    return [path]


def discover(
    exchanges: list[str],
    accounts: list[str] | None = None,
    enforcements: list[str] | None = None,
    fmt: str | None = None,
) -> tuple[list[SourceFile], list[str]]:
    """Resolve command-line paths into the files to ingest (accounts first) and notes."""
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"--input-format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    notes: list[str] = []
    by_table: dict[str, list[SourceFile]] = {t: [] for t in TABLE_NAMES}
    for table, args in (
        ("exchanges", exchanges),
        ("accounts", accounts or []),
        ("enforcements", enforcements or []),
    ):
        for arg in args:
            for path in _expand(arg):
                if path.is_dir() and _is_dataset(path):
                    for t in TABLE_NAMES:
                        by_table[t] += [_source(p, t, fmt) for p in _table_files(path, t)]
                    skipped = sorted(
                        p.name for p in path.iterdir() if p.name.startswith(GROUND_TRUTH_PREFIX)
                    )
                    if skipped:
                        notes.append(
                            f"{path}: skipped ground truth {', '.join(skipped)} "
                            "(never ingested: detectors must not see it)"
                        )
                elif path.is_dir():
                    files = sorted(p for p in path.rglob("*") if p.is_file() and _split_name(p)[1])
                    if not files:
                        raise UsageError(f"{path}: the folder holds no .parquet/.jsonl/.csv file")
                    by_table[table] += [_source(p, table, fmt) for p in files]
                elif path.name.startswith(GROUND_TRUTH_PREFIX):
                    raise UsageError(
                        f"{path}: ground-truth tables are never ingested (detectors must not "
                        "see them)"
                    )
                else:
                    by_table[table].append(_source(path, table, fmt))
    # Accounts first, so exchanges can be judged against the accounts they name.
    ordered = by_table["accounts"] + by_table["exchanges"] + by_table["enforcements"]
    seen: set[tuple[Path, str]] = set()
    unique = []
    for s in ordered:
        key = (s.path.resolve(), s.table)
        if key not in seen:
            seen.add(key)
            unique.append(s)
    if not unique:
        raise UsageError("no input files given")
    return unique, notes
