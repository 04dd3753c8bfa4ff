"""A data set written in each dialect (``stillwatch simulate --write-as`` rewrites the
exchanges with :func:`stillwatch.ingest.dialects.dataset.write_as`) and ingested back holds
the same canonical rows on the columns that dialect carries (docs/formats.md); in OpenAI's
format, which carries every column the scan reads, the scan gives the same account scores.

On the planted data set of ``tests/planted.py`` (about 9,000 exchanges: users, CGNAT users,
a coding fleet, a power user, a campaign), not a simulated scenario, to keep CI fast.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from stillwatch.engine.store import Store, open_store
from stillwatch.ingest.dialects import WRITERS
from stillwatch.ingest.dialects.dataset import write_as
from stillwatch.schema import EXCHANGES
from tests.ingest.helpers import run
from tests.planted import Planted, planted

# LiteLLM stores its times as Postgres timestamp(3): milliseconds.
_TS_PRECISION = {"litellm": "date_trunc('millisecond', ts)"}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Planted:
    return planted()


@pytest.fixture(scope="module")
def canonical(data: Planted, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    root = tmp_path_factory.mktemp("canonical")
    data.write(root / "data")
    with open_store(root / "store.duckdb") as store:
        result = run(store, root / "data", batch_rows=500_000)
        assert not result.errors
        yield store


def _written(data: Planted, root: Path, dialect: str) -> Path:
    folder = data.write(root / "data")
    (folder / "manifest.json").write_text('{"scenario": "planted"}\n')
    written = write_as(folder, dialect)
    assert written["exchanges"] == len(data.exchanges)
    assert json.loads((folder / "manifest.json").read_text())["written_as"] == dialect
    assert not (folder / "exchanges.parquet").exists()
    return folder


def _carried(store: Store, dialect: str) -> list[tuple[object, ...]]:
    """The columns the dialect carries. The planted rows name no endpoint: a writer writes
    its format's own (the first it can say), which is what it reads back."""
    writer = WRITERS[dialect]
    columns = [c for c in EXCHANGES.names if c in writer.carries]
    default = {
        "endpoint": f"coalesce(endpoint, '{writer.endpoints[0]}')"
        if writer.endpoints
        else "endpoint"
    }
    default["ts"] = _TS_PRECISION.get(dialect, "ts")
    shown = [default.get(c, f'"{c}"') for c in columns]
    return store.sql(f"SELECT {', '.join(shown)} FROM exchanges ORDER BY event_id")


@pytest.mark.parametrize("dialect", list(WRITERS))
def test_written_as_each_dialect_reads_back_the_carried_columns(
    data: Planted, canonical: Store, tmp_path: Path, dialect: str
) -> None:
    folder = _written(data, tmp_path, dialect)
    name = "exchanges.csv" if dialect == "litellm" else "exchanges.jsonl"
    assert (folder / name).is_file()
    with open_store(tmp_path / "store.duckdb") as store:
        result = run(store, folder, batch_rows=500_000)  # --source auto tells the dialect
        assert not result.errors, result.errors
        f = next(f for f in result.files if f.table == "exchanges")
        assert f.source == dialect
        assert (f.accepted, f.quarantined, f.parts_quarantined) == (len(data.exchanges), 0, 0)
        assert _carried(store, dialect) == _carried(canonical, dialect)
        for table in ("accounts", "enforcements"):
            query = f"SELECT * EXCLUDE (_ingest_id) FROM {table} ORDER BY ALL"
            assert store.sql(query) == canonical.sql(query)


def _scores(store: Store) -> list[tuple[object, ...]]:
    from stillwatch.detectors.registry import detectors
    from stillwatch.pipeline import scan

    structural = [d.id for d in detectors() if not d.id.startswith("content.")]
    result = scan(store, {"flag_threshold": 0.5, "rules": ""}, only=structural)
    accounts = store.sql(
        """SELECT account_id, round(score, 9), flagged, families, family_scores, top_reasons
           FROM account_scores WHERE scan_id = ? ORDER BY account_id""",
        [result.scan_id],
    )
    campaigns = store.sql(
        """SELECT campaign_id, operator_id, status, round(score, 9), accounts, accounts_low,
                  accounts_high, exchanges, exchanges_low, exchanges_high, first_seen, last_seen
           FROM campaigns WHERE scan_id = ? ORDER BY campaign_id""",
        [result.scan_id],
    )
    return accounts + [("campaign", *c) for c in campaigns]


def test_openai_carries_what_the_scan_reads_and_scores_the_same(
    data: Planted, tmp_path: Path
) -> None:
    """OpenAI's envelope carries every column the scan reads (all but prompt_sha256, which
    the scan hashes from the prompt text): the same account scores, flags and reasons, and the
    same campaigns (ids, operators, scores, sizes with intervals, first and last day)."""
    with open_store(tmp_path / "canonical.duckdb") as plain:
        run(plain, data.write(tmp_path / "plain"), batch_rows=500_000)
        expected = _scores(plain)
    folder = _written(data, tmp_path, "openai")
    with open_store(tmp_path / "store.duckdb") as store:
        run(store, folder, batch_rows=500_000)
        got = _scores(store)
    assert any(row[2] for row in expected)  # the campaign is flagged
    assert any(row[0] == "campaign" and row[3] == "reported" for row in expected)
    assert got == expected
