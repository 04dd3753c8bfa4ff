"""The store: its tables, the Ibis seam over the same connection, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from stillwatch.engine.store import Store, open_store
from stillwatch.errors import StoreError
from stillwatch.schema import EXCHANGES
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
