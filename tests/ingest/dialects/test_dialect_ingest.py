"""Mapped rows are rows the canonical reader accepts: converted fixtures ingested by today's
``stillwatch ingest`` path land in the store, with nothing quarantined by the validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from stillwatch.engine.store import Store
from stillwatch.ingest.dialects import adapter
from stillwatch.ingest.dialects.base import MappedRecord
from stillwatch.ingest.dialects.mapping import MappingReport, convert, map_records
from tests.ingest.helpers import run

FIXTURES = Path(__file__).parent / "fixtures"
CASES = [
    ("openai.jsonl", "openai", 5, 2),
    ("anthropic.jsonl", "anthropic", 3, 1),
    ("otel_genai.jsonl", "otel-genai", 3, 1),
    ("litellm_spend_logs.csv", "litellm", 2, 1),
    ("litellm_spend_logs.jsonl", "litellm", 2, 1),
    ("langfuse_observations_v2.jsonl", "langfuse", 2, 0),
    ("helicone.jsonl", "helicone", 1, 1),
]


@pytest.mark.parametrize(("name", "dialect", "rows", "quarantined"), CASES)
def test_converted_fixtures_ingest_cleanly(
    store: Store, tmp_path: Path, name: str, dialect: str, rows: int, quarantined: int
) -> None:
    report = convert(FIXTURES / name, adapter(dialect), tmp_path / "out")
    assert (report.exchanges, report.quarantined) == (rows, quarantined)
    result = run(store, tmp_path / "out" / "exchanges.jsonl")
    assert not result.errors
    f = result.files[0]
    assert (f.rows_read, f.accepted, f.quarantined) == (rows, rows, 0)
    assert (f.naive_timestamps, f.unknown_columns) == (0, [])
    assert store.counts()["exchanges"] == rows


def test_report_counts_unmapped_fields_and_skips() -> None:
    report = MappingReport()
    lines = (FIXTURES / "langfuse_observations_v2.jsonl").read_text().splitlines()
    list(map_records(adapter("langfuse"), enumerate(lines, 1), report))
    assert (report.records, report.exchanges, report.quarantined) == (3, 2, 0)
    assert report.skipped == {"SPAN observation, not a model call": 1}
    assert report.unmapped["project_id"] == 2 and report.unmapped["release"] == 2


def test_an_adapter_bug_quarantines_the_record_only() -> None:
    class Broken:
        name = "broken"

        def map(self, record: object) -> MappedRecord:
            if record == "bad":
                raise KeyError("boom")
            return MappedRecord()

    report = MappingReport()
    out = list(map_records(Broken(), [(1, "ok"), (2, "bad"), (3, "ok")], report))  # type: ignore[arg-type]
    assert [len(m.quarantined) for _, m in out] == [0, 1, 0]
    assert "internal error in the broken adapter (KeyError)" in out[1][1].quarantined[0].reason
