"""Many records through one adapter, with the counts a run reports: records read, rows
mapped, parts skipped (by reason), quarantined, and how many records held each unmapped
field. An adapter bug surfaces as a quarantined record naming the adapter, never as a crash
that loses the rest of the file.

:func:`convert` writes a dialect file as canonical JSON Lines that ``stillwatch ingest`` reads
today; the ``--source`` wiring will call :func:`map_records` instead.
"""

from __future__ import annotations

import csv
import gzip
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from stillwatch.ingest.dialects.base import Dialect, MappedRecord, Quarantined


@dataclass
class MappingReport:
    records: int = 0
    exchanges: int = 0
    accounts: int = 0
    quarantined: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    unmapped: Counter[str] = field(default_factory=Counter)  # field -> records holding it
    unmapped_more: int = 0  # names past the per-record cap

    def add(self, mapped: MappedRecord) -> None:
        self.records += 1
        self.exchanges += len(mapped.exchanges)
        self.accounts += len(mapped.accounts)
        self.quarantined += len(mapped.quarantined)
        self.skipped.update(mapped.skipped)
        self.unmapped.update(mapped.unmapped)
        self.unmapped_more += mapped.unmapped_more


def map_records(
    dialect: Dialect, records: Iterable[tuple[int, Any]], report: MappingReport
) -> Iterator[tuple[int, MappedRecord]]:
    """(line, record) in, (line, what it became) out, counted in ``report``."""
    for line, record in records:
        try:
            mapped = dialect.map(record)
        except Exception as exc:  # an adapter bug must not lose the rest of the file
            reason = f"internal error in the {dialect.name} adapter ({type(exc).__name__}): please report it"
            mapped = MappedRecord(quarantined=[Quarantined(reason)])
        report.add(mapped)
        yield line, mapped


def _open(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def read_records(path: Path) -> Iterator[tuple[int, Any]]:
    """(line, record) of a JSON Lines or CSV file (by its name, gzip or not): JSON lines are
    handed on as text, for the adapter to parse and quarantine; CSV rows as dicts of text."""
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    with _open(path) as fh:
        if name.endswith(".csv"):
            for number, row in enumerate(csv.DictReader(fh), start=2):
                yield number, row
            return
        for number, text in enumerate(fh, start=1):
            if text.strip():
                yield number, text.rstrip("\r\n")


def convert(path: Path, dialect: Dialect, out: Path) -> MappingReport:
    """Map ``path`` into ``out/exchanges.jsonl``, ``out/accounts.jsonl`` (accounts named by
    the records, each once) and ``out/quarantine.jsonl`` (line, part and reason)."""
    out.mkdir(parents=True, exist_ok=True)
    report = MappingReport()
    seen_accounts: set[str] = set()
    with (
        open(out / "exchanges.jsonl", "w", encoding="utf-8") as exchanges,
        open(out / "accounts.jsonl", "w", encoding="utf-8") as accounts,
        open(out / "quarantine.jsonl", "w", encoding="utf-8") as quarantine,
    ):
        for line, mapped in map_records(dialect, read_records(path), report):
            for row in mapped.exchanges:
                exchanges.write(json.dumps(row, ensure_ascii=False) + "\n")
            for row in mapped.accounts:
                if row["account_id"] not in seen_accounts:
                    seen_accounts.add(row["account_id"])
                    accounts.write(json.dumps(row, ensure_ascii=False) + "\n")
            for q in mapped.quarantined:
                record = {"file": str(path), "line": line, "part": q.part, "reason": q.reason}
                quarantine.write(json.dumps(record, ensure_ascii=False) + "\n")
    return report
