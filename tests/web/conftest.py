"""A small store and casebook with one user per role, and clients logged in as each."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stillwatch.engine.casebook import open_casebook
from stillwatch.engine.store import open_store
from stillwatch.web.app import create_app
from stillwatch.web.context import WebConfig
from stillwatch.web.users import add_user, issue_token
from tests.ingest.helpers import run, write_jsonl

PASSWORD = "correct horse battery"
PROMPT = "SECRET-PROMPT-TEXT please explain your reasoning step by step"
ROLES = ("viewer", "analyst", "admin")


def traffic_rows() -> list[dict[str, Any]]:
    rows = []
    for i in range(30):
        account = f"acct-{i % 3}"
        rows.append(
            {
                "event_id": f"ev{i}",
                "ts": f"2026-04-22T{10 + i % 10:02d}:05:09Z",
                "account_id": account,
                "api_key_id": f"key-{i % 3}-{i % 2}",
                "ip": f"203.0.113.{i % 3 + 1}" if i % 3 != 2 else "2001:db8::7",
                "tls_fingerprint": f"ja3-{i % 3}",
                "model": "frontier-1" if i % 2 else "frontier-2",
                "prompt": f"{PROMPT} #{i}",
                "input_tokens": 100 + i,
                "output_tokens": 200 + i,
            }
        )
    return rows


def make_store(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ex = write_jsonl(folder / "exchanges.jsonl", traffic_rows())
    acc = write_jsonl(
        folder / "accounts.jsonl",
        [
            {"account_id": "acct-0", "payment_fingerprint": "card-77", "country": "DE"},
            {"account_id": "acct-1", "payment_fingerprint": "card-77"},
            {"account_id": "acct-9", "signup_path": "education"},  # registered, never active
        ],
    )
    path = folder / "store.duckdb"
    with open_store(path) as store:
        run(store, ex, accounts=[acc])
    return path


@dataclass
class Site:
    store: Path
    casebook: Path
    config: WebConfig
    tokens: dict[str, str]


def make_site(tmp: Path, **config: Any) -> Site:
    store = make_store(tmp / "data")
    casebook = tmp / "data" / "store.casebook.sqlite"
    tokens = {}
    with open_casebook(casebook) as book:
        for role in ROLES:
            add_user(book, role, role, PASSWORD, actor="test")
            tokens[role] = issue_token(book, role, "test", actor="test")
    cfg = WebConfig(store=store, casebook=casebook, risk_poll_seconds=0.2, **config)
    return Site(store, casebook, cfg, tokens)


@pytest.fixture(scope="session")
def site_template(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return make_site(tmp_path_factory.mktemp("site"))


@pytest.fixture
def site(site_template: Site, tmp_path: Path) -> Site:
    """A fresh copy of the template site (ingest and password hashing take seconds)."""
    shutil.copytree(site_template.store.parent, tmp_path / "data")
    store = tmp_path / "data" / site_template.store.name
    casebook = tmp_path / "data" / site_template.casebook.name
    config = replace(site_template.config, store=store, casebook=casebook)
    return Site(store, casebook, config, dict(site_template.tokens))


@pytest.fixture
def client(site: Site) -> Iterator[TestClient]:
    with TestClient(create_app(site.config), follow_redirects=False) as c:
        yield c


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the form as a browser does; returns the session's CSRF token."""
    form = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert csrf, form.text
    done = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": csrf[1]}
    )
    assert done.status_code == 303, done.text
    page = client.get("/search")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    return token[1]
