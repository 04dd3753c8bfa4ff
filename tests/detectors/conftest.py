from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stillwatch.engine.store import Store, open_store
from stillwatch.ingest import discover, ingest
from stillwatch.pipeline import ScanResult, scan
from tests.planted import Planted, planted


def ingest_folder(store: Store, folder: Path) -> None:
    sources, _ = discover([str(folder)])
    ingest(store, sources, batch_rows=500_000, max_text_bytes=1 << 20)


@pytest.fixture(scope="session")
def planted_data() -> Planted:
    return planted()


@pytest.fixture(scope="session")
def scanned(
    planted_data: Planted, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Store, ScanResult]]:
    """The planted data set ingested and scanned once per session, by the structural
    detectors only: content detectors run or not depending on whether the content package
    is installed (or doubled by another test), and the golden files must not."""
    from stillwatch.detectors.registry import detectors

    root = tmp_path_factory.mktemp("planted")
    planted_data.write(root / "data")
    with open_store(root / "store.duckdb") as store:
        ingest_folder(store, root / "data")
        structural = [d.id for d in detectors() if not d.id.startswith("content.")]
        result = scan(store, {"flag_threshold": 0.5, "rules": ""}, only=structural)
        yield store, result
