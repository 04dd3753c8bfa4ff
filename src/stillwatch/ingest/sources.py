"""Which files to read, as which table, in which format.

Paths may be files, globs or folders (a path that exists is taken as it is, glob characters
and all). A folder holding ``exchanges.*`` (and optionally ``accounts.*``, ``enforcements.*``,
or folders of parts so named) is a data set; ground-truth tables (``labels_*``) and
``manifest.json`` in it are never read: detectors must not see them. A data-set folder that
also holds data files naming no table is refused. Any other folder is read as files of the
table it was given for, data sets inside it as data sets. Pipes and devices are refused.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, replace
from pathlib import Path

from stillwatch.errors import UsageError
from stillwatch.ingest.dialects import DIALECTS

FORMATS = ("parquet", "jsonl", "csv")
# ``--source``: the log dialect of exchanges files; ``auto`` tells it from each file's content.
SOURCES = ("auto", "canonical", *DIALECTS)
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
MANIFEST = "manifest.json"  # the simulator's description of a data set


@dataclass(frozen=True)
class SourceFile:
    path: Path
    table: str
    format: str
    gzip: bool
    dialect: str = "canonical"  # exchanges files: auto, canonical or a dialect (``--source``)
    label: str = ""  # what the store records as the file, where not its path (an API batch)


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


def _strays(folder: Path) -> list[Path]:
    """Data files in a data-set folder that name no table: reading them as one would be a
    guess, skipping them would lose them."""
    known = {*TABLE_NAMES}
    strays = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith(GROUND_TRUTH_PREFIX) or p.name == MANIFEST:
            continue
        if p.is_dir() and p.name not in known:
            strays += [f for f in sorted(p.rglob("*")) if f.is_file() and _split_name(f)[1]]
        elif p.is_file() and _split_name(p)[1] and _split_name(p)[0] not in known:
            strays.append(p)
    return strays


def _expand(arg: str) -> list[Path]:
    path = Path(arg)
    # A name that exists is that file, even when it holds glob characters (ex[1].parquet).
    if any(c in arg for c in "*?[") and not path.exists():
        matches = sorted(Path(p) for p in glob.glob(arg, recursive=True))
        if not matches:
            raise UsageError(f"{arg}: the pattern matches no file")
        return matches
    if not path.exists():
        raise UsageError(f"{arg}: no such file or folder")
    return [path]


def _check_regular(path: Path) -> None:
    if not (path.is_file() or path.is_dir()):
        raise UsageError(
            f"{path}: not a regular file (a pipe, device or socket); save standard input to a "
            "file first"
        )


def _dataset(path: Path, fmt: str | None, notes: list[str]) -> list[SourceFile]:
    strays = _strays(path)
    if strays:
        shown = ", ".join(str(p.relative_to(path)) for p in strays[:5])
        raise UsageError(
            f"{path}: a data-set folder (it holds {', '.join(_present(path))}) also holds "
            f"{shown}, which name(s) no table; name them exchanges.*, accounts.* or "
            "enforcements.* (or put them in a folder so named), or pass them on their own"
        )
    found = [_source(p, t, fmt) for t in TABLE_NAMES for p in _table_files(path, t)]
    skipped = sorted(p.name for p in path.iterdir() if p.name.startswith(GROUND_TRUTH_PREFIX))
    if skipped:
        notes.append(
            f"{path}: skipped ground truth {', '.join(skipped)} "
            "(never ingested: detectors must not see it)"
        )
    return found


def _present(folder: Path) -> list[str]:
    return [p.name for t in TABLE_NAMES for p in _table_files(folder, t)][:3]


def _folder(path: Path, table: str, fmt: str | None, notes: list[str]) -> list[SourceFile]:
    """A folder that is no data set: its data files, as ``table``; a data set inside it is
    read as one, ground truth and manifests are never read."""
    found: list[SourceFile] = []
    for p in sorted(path.iterdir()):
        if p.is_dir():
            found += _dataset(p, fmt, notes) if _is_dataset(p) else _folder(p, table, fmt, notes)
        elif p.name.startswith(GROUND_TRUTH_PREFIX) or p.name == MANIFEST:
            notes.append(f"{p}: skipped (ground truth and manifests are never ingested)")
        elif p.is_file() and _split_name(p)[1]:
            found.append(_source(p, table, fmt))
    return found


def discover(
    exchanges: list[str],
    accounts: list[str] | None = None,
    enforcements: list[str] | None = None,
    fmt: str | None = None,
    source: str = "auto",
) -> tuple[list[SourceFile], list[str]]:
    """Resolve command-line paths into the files to ingest (accounts first) and notes.
    ``source`` is the dialect of the exchanges files (accounts and enforcements are always
    canonical)."""
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"--input-format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if source not in SOURCES:
        raise UsageError(f"--source must be one of {', '.join(SOURCES)}, got {source!r}")
    notes: list[str] = []
    by_table: dict[str, list[SourceFile]] = {t: [] for t in TABLE_NAMES}
    for table, args in (
        ("exchanges", exchanges),
        ("accounts", accounts or []),
        ("enforcements", enforcements or []),
    ):
        for arg in args:
            for path in _expand(arg):
                _check_regular(path)
                if path.is_dir():
                    found = (
                        _dataset(path, fmt, notes)
                        if _is_dataset(path)
                        else _folder(path, table, fmt, notes)
                    )
                    if not found:
                        raise UsageError(f"{path}: the folder holds no .parquet/.jsonl/.csv file")
                    for s in found:
                        by_table[s.table].append(s)
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
            unique.append(replace(s, dialect=source) if s.table == "exchanges" else s)
    if not unique:
        raise UsageError("no input files given")
    return unique, notes
