from __future__ import annotations

from pathlib import Path

import pytest

from stillwatch.intel.keys import CommunityKey
from stillwatch.intel.shared import SharedCampaign, load_campaigns, read_exclusions
from tests.intel.sharing_fixtures import CAMPAIGNS, EXCLUDED, TEST_KEY
from tests.intel.two_providers import Provider, build


@pytest.fixture
def key() -> CommunityKey:
    return TEST_KEY


@pytest.fixture
def campaigns() -> list[SharedCampaign]:
    return load_campaigns(CAMPAIGNS)


@pytest.fixture
def excluded() -> frozenset[str]:
    return read_exclusions(EXCLUDED)


@pytest.fixture(scope="session")
def two_providers(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Provider, Provider, Path]:
    """Two providers that saw the same operator, each simulated, ingested, scanned and exported
    (``two_providers.py``); built once per session."""
    return build(tmp_path_factory.mktemp("two-providers"))
