"""``stillwatch ingest --source``: dialect files read record by record, mapped, and validated
like canonical rows; quarantined parts stored with file, line, part and reason; counts that
add up; accounts named by records added once; ``forget`` still finds quarantined records."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from stillwatch.engine.forget import forget_account
from stillwatch.engine.store import Store, open_store
from stillwatch.ingest.dialects import WRITERS, adapter
from stillwatch.ingest.dialects.litellm_write import COLUMNS, csv_row
from stillwatch.ingest.dialects.mapping import convert
from stillwatch.ingest.load import FileReport
from tests.ingest.helpers import run, write_jsonl

FIXTURES = Path(__file__).parent / "fixtures"
CASES = [
    ("openai.jsonl", "openai"),
    ("anthropic.jsonl", "anthropic"),
    ("otel_genai.jsonl", "otel-genai"),
    ("litellm_spend_logs.csv", "litellm"),
    ("litellm_spend_logs.jsonl", "litellm"),
    ("litellm_standard_logging_payload.jsonl", "litellm"),
    ("langfuse_observations_v2.jsonl", "langfuse"),
    ("langfuse_api_observations.jsonl", "langfuse"),
    ("helicone.jsonl", "helicone"),
]
_COLUMNS = "* EXCLUDE (_ingest_id)"


def _exchanges(store: Store) -> list[tuple[Any, ...]]:
    return store.sql(f"SELECT {_COLUMNS} FROM exchanges ORDER BY event_id")


def _adds_up(f: FileReport) -> None:
    assert f.rows_read == f.accepted + f.duplicates + f.conflicts + f.quarantined
    assert f.rows_read == f.rows_mapped + f.parts_quarantined
    assert f.records_read == sum(f.records.values())
    assert f.add_up()


@pytest.mark.parametrize(("name", "dialect"), CASES)
def test_auto_reads_each_fixture_as_its_converted_rows(
    tmp_path: Path, name: str, dialect: str
) -> None:
    """Ingesting a dialect file directly stores exactly what converting it to canonical JSON
    Lines and ingesting that stores."""
    with open_store(tmp_path / "direct.duckdb") as direct:
        result = run(direct, FIXTURES / name)
        assert not result.errors, result.errors
        f = result.files[0]
        assert f.source == dialect
        _adds_up(f)
        got = _exchanges(direct)
        quarantined = direct.sql("SELECT line, part, reason FROM quarantine ORDER BY line")
    report = convert(FIXTURES / name, adapter(dialect), tmp_path / "converted")
    with open_store(tmp_path / "converted.duckdb") as converted:
        run(converted, tmp_path / "converted" / "exchanges.jsonl", source="canonical")
        assert got == _exchanges(converted)
    assert (f.records_read, f.rows_mapped, f.parts_quarantined) == (
        report.records,
        report.exchanges,
        report.quarantined,
    )
    assert f.accepted == len(got) and f.quarantined == len(quarantined)
    assert f.parts_skipped == dict(report.skipped)
    assert f.unmapped == dict(report.unmapped)
    expected = [json.loads(line) for line in (tmp_path / "converted" / "quarantine.jsonl").open()]
    assert [(q[0], q[1] or "", q[2]) for q in quarantined] == [
        (e["line"], e["part"], e["reason"]) for e in expected
    ]


def test_a_span_that_cannot_be_mapped_is_quarantined_with_its_part(store: Store) -> None:
    result = run(store, FIXTURES / "otel_genai.jsonl", source="otel-genai")
    f = result.files[0]
    assert f.parts_skipped == {
        "span is not a GenAI call": 1,
        "GenAI execute_tool span, not an inference call": 1,
    }
    assert f.records == {"mapped": 1, "quarantined": 0, "skipped": 0}
    ((line, part, reason, raw),) = store.sql("SELECT line, part, reason, raw FROM quarantine")
    assert line == 1 and part.startswith("resourceSpans[0].scopeSpans[0].spans[")
    assert reason == "no account_id: none of user.id present"
    # The raw text is that span with its resource, not the whole export.
    kept = json.loads(raw)
    assert set(kept) == {"resource", "span"} and kept["span"]["spanId"]
    row = store.sql("SELECT source, records_read, rows_mapped, skipped FROM ingest_runs")[0]
    assert row[:3] == ("otel-genai", 1, 3)
    assert json.loads(row[3])["span is not a GenAI call"] == 1


def _spans(rows: list[dict[str, Any]], per_export: int) -> list[dict[str, Any]]:
    writer = WRITERS["otel-genai"](spans_per_export=per_export)  # type: ignore[call-arg]
    return list(writer.records(rows))


def _row(i: int, **over: Any) -> dict[str, Any]:
    row = {
        "event_id": f"ev{i}",
        "ts": f"2026-04-22T13:{i % 60:02d}:05.000Z",
        "account_id": f"user-{i % 3}",
        "model": "gpt-4o",
        "endpoint": "chat.completions",
        "prompt": f"question {i}",
        "response": f"answer {i}",
        "input_tokens": 10 + i,
        "output_tokens": 5,
        "status": "ok",
    }
    row.update(over)
    return row


def test_repeated_ids_inside_one_record_are_told_apart(store: Store, tmp_path: Path) -> None:
    """Several rows of one line: a repeated id in the same export is a duplicate or a
    conflict, never a second accepted row (rows of one line are told apart by position)."""
    first = write_jsonl(tmp_path / "first.jsonl", _spans([_row(1)], 10))
    run(store, first)
    rows = [_row(1), _row(2), _row(2), _row(3), _row(3, prompt="other"), _row(4)]
    second = write_jsonl(tmp_path / "second.jsonl", _spans(rows, 10))
    f = run(store, second).files[0]
    _adds_up(f)
    assert (f.records_read, f.rows_mapped) == (1, 6)
    assert (f.accepted, f.duplicates, f.conflicts) == (3, 2, 1)
    assert store.scalar("SELECT count(*) FROM exchanges") == 4
    assert store.scalar("SELECT count(DISTINCT event_id) FROM exchanges") == 4
    (reason,) = store.sql("SELECT reason FROM quarantine")[0]
    assert reason.startswith("conflict: event_id ev3 was seen before")


@pytest.mark.parametrize("batch_rows", [1, 2, 7, 1000])
def test_batches_do_not_change_the_outcome(tmp_path: Path, batch_rows: int) -> None:
    rows = [_row(i) for i in range(20)] + [_row(3), _row(5, prompt="changed")]
    path = write_jsonl(tmp_path / "ex.jsonl", list(WRITERS["openai"]().records(rows)))
    with open_store(tmp_path / f"s{batch_rows}.duckdb") as s:
        f = run(s, path, batch_rows=batch_rows).files[0]
        _adds_up(f)
        assert (f.accepted, f.duplicates, f.conflicts) == (20, 1, 1)
        assert s.scalar("SELECT count(*) FROM exchanges") == 20


def test_records_the_reader_cannot_hand_on_are_quarantined(store: Store, tmp_path: Path) -> None:
    good = list(WRITERS["openai"]().records([_row(1), _row(2), _row(3)]))
    lines = [
        json.dumps(good[0]).encode(),
        b'{"request_id": "x", "account_id": "\xff\xfe"}',
        json.dumps({**good[1], "pad": "y" * 5000}).encode(),
        b"",
        json.dumps(good[2]).encode(),
    ]
    path = tmp_path / "ex.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    f = run(store, path, source="openai", max_record_bytes=4096).files[0]
    _adds_up(f)
    assert (f.records_read, f.accepted, f.parts_quarantined) == (4, 2, 2)
    rows = store.sql("SELECT line, reason FROM quarantine ORDER BY line")
    assert rows == [
        (2, "line is not valid UTF-8"),
        (3, "record longer than 4096 bytes (max_record_bytes)"),
    ]


def test_csv_records_keep_their_physical_lines(store: Store, tmp_path: Path) -> None:
    rows = [_row(1, conversation_id="two\nlines"), _row(2), _row(3)]
    records = [csv_row(r) for r in WRITERS["litellm"]().records(rows)]
    path = tmp_path / "spend.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        writer.writerow([records[0][c] for c in COLUMNS])
        writer.writerow(["too", "few"])
        writer.writerow([records[1][c] for c in COLUMNS])
        writer.writerow([records[2][c] for c in COLUMNS[:-1]] + ["{not json"])
    f = run(store, path).files[0]
    assert f.source == "litellm"
    _adds_up(f)
    assert f.accepted == 2
    got = store.sql("SELECT line, reason FROM quarantine ORDER BY line")
    # record 1 spans lines 2-3 (a line end inside its session_id), so the short record is on line 4
    assert got[0] == (4, f"CSV record has 2 fields, the header {len(COLUMNS)}")
    assert got[1] == (6, "response is not valid JSON: " + got[1][1].split(": ", 1)[1])
    assert len(got) == 2


def test_an_explicit_source_that_does_not_fit_is_one_error(store: Store, tmp_path: Path) -> None:
    result = run(store, FIXTURES / "helicone.jsonl", source="openai")
    assert len(result.errors) == 1
    assert "reads as helicone" in result.errors[0] and "--source helicone" in result.errors[0]
    assert store.counts()["exchanges"] == store.counts()["ingest_runs"] == 0
    parquet = tmp_path / "ex.parquet"
    store.con.execute(f"COPY (SELECT 1 AS event_id) TO '{parquet}' (FORMAT parquet)")
    assert "not Parquet" in run(store, parquet, source="langfuse").errors[0]


def test_auto_says_when_it_recognised_no_dialect(store: Store, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "x.jsonl", [{"id": 1, "call_type": "x"}, {"id": 2}])
    f = run(store, path).files[0]
    assert f.source == "canonical" and f.accepted == 0
    assert any("no log dialect recognised" in w for w in f.warnings)


def test_the_same_file_with_another_account_source_is_read_again(
    store: Store, tmp_path: Path
) -> None:
    path = FIXTURES / "litellm_spend_logs.jsonl"
    first = run(store, path).files[0]
    assert not first.skipped
    assert "already ingested" in run(store, path).files[0].skipped
    again = run(store, path, settings={"litellm_account_from": "key"}).files[0]
    # the same ids again: those now given to another account are conflicts
    assert not again.skipped and again.accepted == 0
    assert again.conflicts >= 1 and again.conflicts + again.duplicates == first.accepted


def test_accounts_named_by_records_are_added_once_and_never_overwrite(
    store: Store, tmp_path: Path
) -> None:
    def spend_log(i: int, team: str, alias: str) -> dict[str, Any]:
        record = next(WRITERS["litellm"]().records([_row(i)]))
        record["team_id"] = team
        record["metadata"]["user_api_key_team_alias"] = alias
        return record

    accounts = write_jsonl(tmp_path / "accounts.jsonl", [{"account_id": "t1", "country": "DE"}])
    run(store, accounts=[accounts])
    a = write_jsonl(
        tmp_path / "a.jsonl", [spend_log(i, f"t{i % 3}", f"Team {i % 3}") for i in range(9)]
    )
    b = gzip.compress(
        "".join(json.dumps(spend_log(i, "t2", "Team 2")) + "\n" for i in range(9, 12)).encode()
    )
    (tmp_path / "b.jsonl.gz").write_bytes(b)
    result = run(store, a, tmp_path / "b.jsonl.gz")
    assert [f.accounts_added for f in result.files] == [2, 0]
    assert store.sql("SELECT account_id, org_name, country FROM accounts ORDER BY 1") == [
        ("t0", "Team 0", None),
        ("t1", None, "DE"),  # registration data given as a file stays as it was
        ("t2", "Team 2", None),
    ]
    assert store.scalar("SELECT count(*) FROM accounts_history") == 0


def test_forget_finds_quarantined_records_by_any_field(store: Store, tmp_path: Path) -> None:
    """Records quarantined whole keep their fields within the raw text (long strings are
    shortened), so an account chosen from any field is found and forgotten."""
    long_prompt = "word " * 3000
    openai = list(WRITERS["openai"]().records([_row(1, prompt=long_prompt), _row(2)]))
    for record in openai:
        record["project_id"] = "proj_secret"
        record["request"]["model"] = "m" * 2000  # quarantined: model longer than 1024
    path = write_jsonl(tmp_path / "ex.jsonl", openai)
    f = run(store, path, settings={"openai_account_from": "project"}).files[0]
    assert f.parts_quarantined == 2 and f.accepted == 0
    raw = store.sql("SELECT raw FROM quarantine ORDER BY line")[0][0]
    assert "proj_secret" in raw and len(raw) <= 2000
    done = forget_account(store, "proj_secret", rewrite=False)
    assert done.deleted["quarantine"] == 2
    assert store.scalar("SELECT count(*) FROM quarantine") == 0
