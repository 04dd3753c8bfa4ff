"""A real uvicorn process beside ingest and forget: the store's one-writer rule holds, and the
server's log never holds a password, a token or prompt text."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx

from tests.ingest.helpers import write_jsonl
from tests.web.conftest import PASSWORD, PROMPT, make_store
from tests.web.live import running_server, sw


def test_ingest_and_forget_succeed_while_the_server_runs(tmp_path: Path) -> None:
    store = make_store(tmp_path / "data")
    book = tmp_path / "data" / "store.casebook.sqlite"
    common = ["--store", str(store), "--casebook", str(book)]
    sw("users", "add", "ana", "--role", "admin", "--password-stdin", *common, stdin=PASSWORD + "\n")
    token = json.loads(
        sw("users", "token", "ana", "--label", "gateway", "--format", "json", *common)
    )["token"]
    auth = {"Authorization": f"Bearer {token}"}
    new = write_jsonl(
        tmp_path / "more.jsonl",
        [
            {"event_id": f"new{i}", "ts": "2026-04-23T01:00:00Z", "account_id": "acct-new",
             "model": "frontier-1", "prompt": PROMPT}
            for i in range(2000)
        ],
    )  # fmt: skip
    with (
        running_server(store, book, tmp_path / "server.log") as server,
        httpx.Client(base_url=server.url, headers=auth, timeout=10) as http,
    ):
        assert http.get("/api/v1/accounts/acct-new/risk").status_code == 404
        # Pages keep reading the store while the ingest runs: each answers 200, or 503 while
        # the ingest holds the store, never an error.
        statuses: list[int] = []
        stop = threading.Event()

        def browse() -> None:
            while not stop.is_set():
                statuses.append(http.get("/api/v1/accounts/acct-0").status_code)

        reader = threading.Thread(target=browse)
        reader.start()
        try:
            time.sleep(0.3)
            out = json.loads(sw("ingest", str(new), "--store", str(store), "--format", "json"))
            time.sleep(0.3)
        finally:
            stop.set()
            reader.join()
        assert out["totals"]["accepted"] == 2000
        assert statuses and set(statuses) <= {200, 503} and 200 in statuses
        # The server sees the new account once the store is free (the risk index refreshes).
        deadline = time.monotonic() + 15
        while http.get("/api/v1/accounts/acct-new/risk").status_code != 200:
            assert time.monotonic() < deadline, "risk index never saw the ingest"
            time.sleep(0.2)
        verdict = http.post(
            "/api/v1/accounts/acct-new/verdicts", json={"verdict": "confirmed", "note": "new"}
        )
        assert verdict.status_code == 201
        assert http.get("/api/v1/accounts/acct-new/exchanges?reveal=true").status_code == 200
        # A login with the password, so the log has had the chance to leak it.
        assert (
            httpx.post(
                server.url + "/api/v1/login", json={"username": "ana", "password": PASSWORD}
            ).status_code
            == 200
        )
        # forget runs while the server holds the casebook open.
        forgot = json.loads(sw("forget", "acct-new", "--store", str(store), "--format", "json"))
        assert forgot["deleted"]["exchanges"] == 2000
        assert forgot["casebook"]["analyst_verdicts"] == 1
        events = http.get("/api/v1/audit").json()["events"]
        about = [e for e in events if e["event"] in ("verdict", "prompt_reveal")]
        assert about and all("acct-new" not in json.dumps(e) for e in about)
        assert all(e["entity_id"].startswith("sha256:") for e in about)
    log = server.log.read_text()
    assert "GET /api/v1/accounts/acct-0" in log  # the access log is on
    for secret in (PASSWORD, token, PROMPT, token[3:20]):
        assert secret not in log


def test_forwarded_https_from_a_trusted_proxy_makes_the_cookie_secure(tmp_path: Path) -> None:
    store = make_store(tmp_path / "data")
    book = tmp_path / "data" / "store.casebook.sqlite"
    sw("users", "add", "v", "--role", "viewer", "--password-stdin", "--store", str(store),
       "--casebook", str(book), stdin=PASSWORD + "\n")  # fmt: skip
    body = {"username": "v", "password": PASSWORD}
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.9"}
    for trusted, secure in (("", False), ("127.0.0.1", True)):
        env = {"STILLWATCH_WEB_TRUSTED_PROXIES": trusted} if trusted else {}
        with running_server(store, book, tmp_path / "s.log", env) as server:
            got = httpx.post(server.url + "/api/v1/login", json=body, headers=forwarded)
            assert got.status_code == 200
            assert ("Secure" in got.headers["set-cookie"]) is secure
