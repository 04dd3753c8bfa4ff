"""The store: its tables, the Ibis seam over the same connection, clear errors."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from stillwatch.engine import migrations
from stillwatch.engine import store as store_module
from stillwatch.engine.migrations import LATEST
from stillwatch.engine.store import BOOKKEEPING, Store, is_interruption, open_store
from stillwatch.errors import StoreError
from stillwatch.schema import ACCOUNTS, CANONICAL, EXCHANGES
from tests.ingest.helpers import exchange, run, write_jsonl


def test_ibis_reads_the_same_tables(store: Store, tmp_path: Path) -> None:
    run(store, write_jsonl(tmp_path / "ex.jsonl", [exchange(i) for i in range(9)]))
    con = store.ibis()
    exchanges = con.table("exchanges")
    assert set(EXCHANGES.names) <= set(exchanges.columns)
    per_account = exchanges.group_by("account_id").aggregate(n=exchanges.count()).to_pyarrow()
    assert sorted(per_account.column("n").to_pylist()) == [3, 3, 3]


def test_missing_store_and_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no store here"):
        open_store(tmp_path / "absent.duckdb", create=False)
    with pytest.raises(StoreError, match="is a folder"):
        open_store(tmp_path)
    (tmp_path / "junk.duckdb").write_text("not a database")
    with pytest.raises(StoreError, match="cannot open"):
        open_store(tmp_path / "junk.duckdb")


def test_memory_share_lowers_the_limit_for_a_while(store: Store) -> None:
    def limit() -> str:
        return str(store.scalar("SELECT current_setting('memory_limit')"))

    before = limit()
    with store.memory_share(0.5):
        assert limit() == "476.8 MiB"  # half of the default 1GB (10^9 bytes)
    assert limit() == before == "953.6 MiB"


def _v1_store(tmp_path: Path) -> Path:
    """A store made by stillwatch at schema version 1 (main at 4d6d454): accounts ingested
    twice (one replaced, in history), exchanges with a conflict and a bad row, a ban."""
    path = tmp_path / "store-v1.duckdb"
    path.write_bytes(
        gzip.decompress((Path(__file__).parent / "data/store-v1.duckdb.gz").read_bytes())
    )
    return path


def test_a_version_1_store_is_migrated_in_place(tmp_path: Path) -> None:
    path = _v1_store(tmp_path)
    with open_store(path) as store:
        meta = dict(store.sql("SELECT key, value FROM store_meta"))
        assert meta["schema_version"] == str(LATEST) and meta["application"] == "stillwatch"
        assert meta["migrated_at"].endswith("from 1")
        assert store.counts()["exchanges"] == 2 and store.counts()["accounts_history"] == 1
        # the stored digests were recomputed: the same accounts again are duplicates
        acc = tmp_path / "acc2.csv"
        acc.write_text("account_id,country,verified\nacct_2,DE,false\nacct_1,FR,true\n")
        enf = write_jsonl(
            tmp_path / "enf.jsonl",
            [{"account_id": "acct_1", "ts": "2026-04-23T00:00:00Z", "action": "ban",
              "reason": "r"}],
        )  # fmt: skip
        report = run(store, accounts=[acc], enforcements=[str(enf)])
        assert [(f.accepted, f.duplicates) for f in report.files] == [(0, 2), (0, 1)]
        ex = write_jsonl(tmp_path / "ex.jsonl", [exchange(9), exchange(10)])
        assert run(store, ex).files[0].accepted == 2
        assert store.scalar("SELECT max(ingest_id) FROM ingest_runs") == 7
    with open_store(path) as store:  # opening again changes nothing
        assert store.scalar("SELECT value FROM store_meta WHERE key = 'schema_version'") == str(
            LATEST
        )


def test_a_fresh_store_has_the_columns_the_schema_declares(store: Store) -> None:
    """schema.py describes the latest version: a column added there needs a migration step."""
    for name, table in CANONICAL.items():
        stored = [r[0] for r in store.sql(f"DESCRIBE {name}")]
        assert stored == table.names + list(BOOKKEEPING[name]), name
    history = [r[0] for r in store.sql("DESCRIBE accounts_history")]
    assert history == ACCOUNTS.names + list(BOOKKEEPING["accounts_history"])


def test_a_store_stillwatch_did_not_make_is_refused_untouched(tmp_path: Path) -> None:
    """Case 10: another program's DuckDB file got stillwatch's tables, then a traceback."""
    path = tmp_path / "theirs.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE orders (id INT, total DOUBLE); INSERT INTO orders VALUES (1, 2.5)")
    con.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match=r"not a stillwatch store .*orders.*untouched"):
        open_store(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["theirs.duckdb"]
    done = subprocess.run(
        [sys.executable, "-m", "stillwatch", "status", "--store", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and "not a stillwatch store" in done.stderr
    assert path.read_bytes() == before


def test_a_store_from_a_newer_stillwatch_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    with open_store(path) as store:
        store.con.execute("UPDATE store_meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="newer stillwatch"):
        open_store(path)


def test_migration_steps_run_in_one_transaction(tmp_path: Path, monkeypatch: Any) -> None:
    path = _v1_store(tmp_path)
    before = path.read_bytes()

    def broken(con: Any) -> None:
        raise RuntimeError("step failed")

    failing = (
        *migrations.STEPS,
        migrations.Step(LATEST + 1, "broken", ("CREATE TABLE x (a INT)",), broken),
    )
    monkeypatch.setattr(migrations, "STEPS", failing)
    monkeypatch.setattr(migrations, "LATEST", LATEST + 1)
    monkeypatch.setattr(store_module, "LATEST", LATEST + 1)
    with pytest.raises(RuntimeError, match="step failed"):
        open_store(path)
    monkeypatch.undo()
    with open_store(path, read_only=False) as store:
        assert "x" not in {r[0] for r in store.sql("SELECT table_name FROM duckdb_tables()")}
    assert before  # the v1 store opened fine afterwards, migrated by the real steps


def test_ctrl_c_is_recognised_however_duckdb_wraps_it() -> None:
    """DuckDB reports Ctrl-C while it reads an Arrow batch as an InvalidInputException."""
    wrapped = "reading the schema of the Python object 'stage' failed: KeyboardInterrupt: "
    assert is_interruption(duckdb.InvalidInputException(wrapped))
    assert is_interruption(RuntimeError("Query interrupted"))
    assert not is_interruption(duckdb.InvalidInputException("reading the schema failed: bad type"))
    assert not is_interruption(ValueError("KeyboardInterrupt"))
