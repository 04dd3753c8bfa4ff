"""``stillwatch bench serve``: the gateway's risk lookup against a bare health route, same run.

A real ``stillwatch serve`` process (uvicorn, one worker, access log off) on loopback, over a
store of synthetic traffic and a casebook with verdicts, actions and allowlist entries; the load
comes from this process: an asyncio HTTP/1.1 client on raw sockets with keep-alive connections
(lighter than an HTTP library, so the client is not what is measured), each connection sending
its next request as soon as the last answer arrived. Every request's latency is kept.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from stillwatch.engine.store import open_store
from stillwatch.ingest import discover, ingest

PASSWORD = "bench-password-not-secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "stillwatch", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"stillwatch {args[0]} {args[1]}: {done.stderr.strip()}")
    return done.stdout


def build_site(folder: Path, accounts: int) -> tuple[Path, Path, str]:
    """A store with ``accounts`` accounts (5 exchanges each) and a casebook with a token."""
    rows = folder / "exchanges.jsonl"
    with rows.open("w") as out:
        for i in range(accounts * 5):
            out.write(
                json.dumps(
                    {
                        "event_id": f"e{i}",
                        "ts": f"2026-04-22T{i % 24:02d}:00:00Z",
                        "account_id": f"acct-{i % accounts}",
                        "model": "frontier-1",
                        "ip": f"198.51.{i % 200}.{i % 250 + 1}",
                        "input_tokens": 100,
                        "output_tokens": 300,
                    }
                )
                + "\n"
            )
    store = folder / "stillwatch.duckdb"
    sources, _ = discover([str(rows)])
    with open_store(store) as opened:
        ingest(opened, sources, batch_rows=500_000, max_text_bytes=1 << 20)
    book = folder / "stillwatch.casebook.sqlite"
    where = ["--store", str(store), "--casebook", str(book)]
    _cli("users", "add", "bench", "--role", "analyst", "--password-stdin", *where, stdin=PASSWORD)
    token = json.loads(_cli("users", "token", "bench", "--format", "json", *where))["token"]
    return store, book, token


def _post(url: str, token: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def seed_decisions(base: str, token: str, accounts: int) -> None:
    """Verdicts, actions and allowlist entries on 1 account in 100, through the API (the risk
    lookups are indexed: how many decisions exist hardly matters)."""
    for i in range(0, accounts, 100):
        account = f"acct-{i}"
        _post(
            f"{base}/api/v1/accounts/{account}/verdicts",
            token,
            {"verdict": "confirmed" if i % 200 else "dismissed", "note": "bench"},
        )
        _post(
            f"{base}/api/v1/accounts/{account}/actions",
            token,
            {"action": "throttle", "reason": "bench"},
        )
        if i % 500 == 0:
            _post(
                f"{base}/api/v1/allowlist",
                token,
                {"entity_kind": "account", "entity": account, "reason": "bench", "days": 30},
            )


async def _connection(
    port: int,
    paths: list[str],
    token: str,
    until: float,
    latencies: list[float],
    codes: dict[int, int],
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    i = 0
    try:
        while time.perf_counter() < until:
            path = paths[i % len(paths)]
            i += 1
            request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n".encode()
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            status = int(head[9:12])
            codes[status] = codes.get(status, 0) + 1
    finally:
        writer.close()


async def _load(
    port: int, paths: list[str], token: str, seconds: float, connections: int
) -> dict[str, Any]:
    latencies: list[float] = []
    codes: dict[int, int] = {}
    start = time.perf_counter()
    until = start + seconds
    await asyncio.gather(
        *(
            _connection(port, paths[k::connections] or paths, token, until, latencies, codes)
            for k in range(connections)
        )
    )
    elapsed = time.perf_counter() - start
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0

    return {
        "requests": len(ordered),
        "seconds": elapsed,
        "requests_per_s": len(ordered) / elapsed,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "p999_ms": pct(0.999),
        "max_ms": ordered[-1] * 1000 if ordered else 0.0,
        "statuses": {str(k): v for k, v in sorted(codes.items())},
    }


def run_bench(
    accounts: int = 10_000,
    seconds: float = 10.0,
    connections: int = 16,
    workdir: Path | None = None,
) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="bench-serve-", dir=workdir))
    store, book, token = build_site(folder, accounts)
    port = _free_port()
    log = (folder / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "stillwatch", "serve", "--store", str(store), "--casebook",
         str(book), "--port", str(port), "--no-access-log"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/api/v1/health", timeout=1):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the server did not start; see " + str(folder)) from None
                time.sleep(0.1)
        seed_decisions(base, token, accounts)
        time.sleep(2.5)  # let the risk index take its first snapshot of the store
        risk_paths = [
            f"/api/v1/accounts/acct-{(i * 7919) % accounts}/risk" for i in range(accounts)
        ]
        results: dict[str, Any] = {}
        for name, paths, auth in (
            ("health", ["/api/v1/health"], ""),
            ("risk", risk_paths, token),
        ):
            asyncio.run(_load(port, paths, auth, 1.0, connections))  # warm-up
            results[name] = asyncio.run(_load(port, paths, auth, seconds, connections))
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
    shutil.rmtree(folder, ignore_errors=True)
    return {
        "accounts": accounts,
        "connections": connections,
        "seconds_per_route": seconds,
        "client": "asyncio raw-socket HTTP/1.1, keep-alive",
        "server": "stillwatch serve (uvicorn, 1 worker, access log off)",
        "cpus": os.cpu_count(),
        "routes": results,
        "risk_over_health": results["risk"]["requests_per_s"] / results["health"]["requests_per_s"],
    }
