"""A site over a scanned store with a real campaign: the hand-written planted data set
(tests/planted.py: one 13-account campaign beside users, CGNAT users and a coding fleet),
ingested and scanned with every detector, and one user per role."""

from __future__ import annotations

from pathlib import Path

from stillwatch.engine.casebook import open_casebook
from stillwatch.engine.store import open_store
from stillwatch.ingest import discover, ingest
from stillwatch.pipeline import scan
from stillwatch.web.context import WebConfig
from stillwatch.web.users import add_user, issue_token
from tests.planted import planted
from tests.web.conftest import PASSWORD, ROLES, Site

CAMPAIGN_ACCOUNTS = {f"acct_campaign_{i:03d}" for i in range(13)}


def scanned_store(folder: Path) -> Path:
    planted().write(folder / "data")
    path = folder / "store.duckdb"
    with open_store(path) as store:
        ingest(store, discover([str(folder / "data")])[0], batch_rows=500_000,
               max_text_bytes=1 << 20)  # fmt: skip
        scan(store, {"flag_threshold": 0.5, "rules": ""})
    return path


def campaign_site(folder: Path, **config: object) -> Site:
    store = scanned_store(folder)
    casebook = folder / "store.casebook.sqlite"
    tokens = {}
    with open_casebook(casebook) as book:
        for role in ROLES:
            add_user(book, role, role, PASSWORD, actor="test")
            tokens[role] = issue_token(book, role, "test", actor="test")
    cfg = WebConfig(store=store, casebook=casebook, risk_poll_seconds=0.2, **config)  # type: ignore[arg-type]
    return Site(store, casebook, cfg, tokens)
