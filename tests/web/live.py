"""A real ``stillwatch serve`` process on loopback, started and stopped by a test."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sw(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
    """Run a ``stillwatch`` command; its stdout, or AssertionError with its stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "stillwatch", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert done.returncode == 0, f"stillwatch {' '.join(args)}: {done.stderr}"
    return done.stdout


@dataclass
class Server:
    url: str
    log: Path
    process: subprocess.Popen[bytes]


@contextmanager
def running_server(
    store: Path, casebook: Path, log: Path, env: dict[str, str] | None = None
) -> Iterator[Server]:
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "stillwatch", "serve", "--store", str(store),
             "--casebook", str(casebook), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(url + "/api/v1/health", timeout=1) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("server did not start:\n" + log.read_text())
                time.sleep(0.1)
            yield Server(url, log, process)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
