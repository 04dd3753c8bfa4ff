"""``POST /api/v1/exchanges``: batches of canonical rows or any dialect's records, ingested with
the same rules as ``stillwatch ingest``; idempotent by event id; bounded body; 503 with
Retry-After while another process holds the store (also against a real uvicorn process)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from stillwatch.engine.store import open_store
from stillwatch.ingest.dialects import WRITERS
from stillwatch.web.app import create_app
from tests.web.conftest import Site
from tests.web.live import running_server

FIXTURES = Path(__file__).parents[1] / "ingest" / "dialects" / "fixtures"


def _row(i: int, **over: Any) -> dict[str, Any]:
    return {
        "event_id": f"api-{i}",
        "ts": "2026-04-23T10:00:00Z",
        "account_id": f"acct-api-{i % 2}",
        "model": "frontier-1",
        "ip": "198.51.100.7",
        **over,
    }


def _bearer(site: Site, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {site.tokens[role]}"}


def _stored(site: Site, query: str) -> list[tuple[Any, ...]]:
    with open_store(site.store, read_only=True) as store:
        return store.sql(query)


def test_canonical_rows_are_ingested_once(site: Site, client: TestClient) -> None:
    batch = [_row(1), _row(2), _row(3, ip="300.1.1.1"), _row(1)]
    got = client.post("/api/v1/exchanges", json=batch, headers=_bearer(site, "analyst"))
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["source"] == "canonical"
    assert (body["rows_read"], body["accepted"], body["duplicates"], body["quarantined"]) == (
        4, 2, 1, 1,
    )  # fmt: skip
    assert body["quarantine"][0]["reason"].startswith("ip: not an IP address")
    again = client.post(
        "/api/v1/exchanges", json={"records": batch}, headers=_bearer(site, "admin")
    )
    assert again.json()["accepted"] == 0 and again.json()["duplicates"] == 3
    rows = _stored(site, "SELECT event_id FROM exchanges WHERE event_id LIKE 'api-%' ORDER BY 1")
    assert rows == [("api-1",), ("api-2",)]
    files = _stored(site, "SELECT DISTINCT file FROM quarantine WHERE file LIKE 'api:%'")
    assert len(files) == 2 and all(
        f[0].startswith("api:analyst:") or f[0].startswith("api:admin:") for f in files
    )
    # the risk endpoint knows the new account at once
    risk = client.get("/api/v1/accounts/acct-api-1/risk", headers=_bearer(site, "viewer"))
    assert risk.status_code == 200 and risk.json()["seen_in_store"] is True


def test_a_viewer_may_not_ingest(site: Site, client: TestClient) -> None:
    got = client.post("/api/v1/exchanges", json=[_row(1)], headers=_bearer(site, "viewer"))
    assert got.status_code == 403
    assert client.post("/api/v1/exchanges", json=[_row(1)]).status_code == 401
    assert _stored(site, "SELECT count(*) FROM exchanges WHERE event_id = 'api-1'") == [(0,)]


def test_dialect_records_as_json_lines(site: Site, client: TestClient) -> None:
    """A dialect file's lines as the body: the same counts as ingesting the file; a broken
    line is quarantined alone, with its line number."""
    body = (FIXTURES / "openai.jsonl").read_bytes()
    headers = {**_bearer(site, "analyst"), "Content-Type": "application/x-ndjson"}
    got = client.post("/api/v1/exchanges", content=body, headers=headers)
    assert got.status_code == 200, got.text
    r = got.json()
    assert r["source"] == "openai" and (r["records_read"], r["accepted"], r["quarantined"]) == (
        7, 5, 2,
    )  # fmt: skip
    assert {q["line"] for q in r["quarantine"]} == {6, 7}
    assert r["unmapped"]["project_id"] == 5
    otel = (FIXTURES / "otel_genai.jsonl").read_bytes()
    got = client.post("/api/v1/exchanges?source=otel-genai", content=otel, headers=headers).json()
    assert got["parts_skipped"] == {
        "span is not a GenAI call": 1,
        "GenAI execute_tool span, not an inference call": 1,
    }
    assert got["quarantine"][0]["part"].startswith("resourceSpans[0]")
    csv_body = (FIXTURES / "litellm_spend_logs.csv").read_bytes()
    got = client.post(
        "/api/v1/exchanges",
        content=csv_body,
        headers={**_bearer(site, "analyst"), "Content-Type": "text/csv"},
    ).json()
    assert got["source"] == "litellm" and got["accepted"] == 2


def test_bad_bodies_get_one_line_and_store_nothing(site: Site, client: TestClient) -> None:
    headers = _bearer(site, "analyst")
    cases = [
        (b"{not json", "application/json", 422),
        (b'{"rows": []}', "application/json", 422),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 422),
        (b"", "application/json", 422),
        (b"a,b\n1,2\n", "application/xml", 415),
        (json.dumps([_row(1)]).encode(), "application/json; source=x", 200),
    ]
    for body, kind, status in cases:
        got = client.post(
            "/api/v1/exchanges", content=body, headers={**headers, "Content-Type": kind}
        )
        assert got.status_code == status, (body[:40], got.text)
        if status != 200:
            assert "\n" not in got.json()["error"]
    got = client.post("/api/v1/exchanges?source=klingon", json=[_row(1)], headers=headers)
    assert got.status_code == 422
    lines = b"[1]\n{broken\n"
    got = client.post(
        "/api/v1/exchanges",
        content=lines,
        headers={**headers, "Content-Type": "application/x-ndjson"},
    )
    assert got.status_code == 422 and "no line is a JSON object" in got.json()["error"]
    assert "batch.jsonl" not in got.json()["error"]  # named by its label, not a temp path
    assert _stored(site, "SELECT count(*) FROM exchanges WHERE event_id LIKE 'api-%'") == [(1,)]


def test_the_body_is_bounded_by_its_own_setting(site: Site) -> None:
    config = replace(site.config, ingest_max_body_bytes=4096, max_body_bytes=1024)
    with TestClient(create_app(config)) as client:
        headers = {**_bearer(site, "analyst"), "Content-Type": "application/x-ndjson"}
        fits = "\n".join(json.dumps(_row(i)) for i in range(15)).encode()
        assert 1024 < len(fits) < 4096
        assert client.post("/api/v1/exchanges", content=fits, headers=headers).status_code == 200
        big = "\n".join(json.dumps(_row(i)) for i in range(60)).encode()
        assert client.post("/api/v1/exchanges", content=big, headers=headers).status_code == 413

        def streamed() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            yield big[:3000]
            yield big[3000:]

        got = client.post("/api/v1/exchanges", content=streamed(), headers=headers)
        assert got.status_code == 413
    assert _stored(site, "SELECT count(*) FROM exchanges WHERE event_id LIKE 'api-%'") == [(15,)]


HOLD = """
import sys, time
from stillwatch.engine.store import open_store
with open_store(sys.argv[1]) as store:
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
"""


@contextmanager
def _held(store: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the store for writing (as an ingest or scan does)."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(store), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "holding"
        yield process
    finally:
        process.kill()
        process.wait()


def _post(url: str, token: str, records: list[dict[str, Any]]) -> tuple[int, dict[str, Any], Any]:
    request = urllib.request.Request(
        url + "/api/v1/exchanges",
        data=gzip.decompress(gzip.compress(json.dumps(records).encode())),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read()), answer.headers
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}"), exc.headers


def test_a_real_server_ingests_and_says_busy_while_another_process_writes(
    site: Site, tmp_path: Path
) -> None:
    rows = [_row(i) for i in range(200)]
    records = list(WRITERS["anthropic"]().records(rows))
    with running_server(site.store, site.casebook, tmp_path / "server.log") as live:
        token = site.tokens["analyst"]
        status, body, _ = _post(live.url, token, records[:100])
        assert status == 200, body
        assert body["source"] == "anthropic" and body["accepted"] == 100
        with _held(site.store, 30):
            started = time.monotonic()
            status, body, headers = _post(live.url, token, records[100:])
            waited = time.monotonic() - started
            assert status == 503 and headers["Retry-After"] == "5", body
            assert waited < 10  # a short wait, not a hung request
        status, body, _ = _post(live.url, token, records)  # the first 100 again, and the rest
        assert status == 200, body
        assert (body["accepted"], body["duplicates"]) == (100, 100)
    assert _stored(site, "SELECT count(*) FROM exchanges WHERE event_id LIKE 'api-%'") == [(200,)]
