"""TAXII 2.1 push and pull against a real medallion server on loopback."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from stillwatch.engine.store import open_store
from stillwatch.intel.keys import write_key
from stillwatch.intel.shared import SharedCampaign
from tests.cli.test_commands import sw
from tests.intel.sharing_fixtures import TEST_KEY, export

COLLECTION = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
USER, PASSWORD = "provider-b", "loopback-only"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def taxii_root(tmp_path: Path) -> Iterator[str]:
    """A medallion TAXII 2.1 server (memory backend) in its own process, on 127.0.0.1."""
    port = _free_port()
    root = f"http://127.0.0.1:{port}/sharing/"
    data = {
        "/discovery": {"title": "test", "default": root, "api_roots": [root]},
        "sharing": {
            "information": {"title": "sharing", "versions": ["application/taxii+json;version=2.1"],
                            "max_content_length": 10 * 1024 * 1024},
            "status": [],
            "collections": [{"id": COLLECTION, "title": "campaigns", "can_read": True,
                             "can_write": True, "media_types": ["application/stix+json;version=2.1"],
                             "objects": [], "manifest": []}],
        },
    }  # fmt: skip
    (tmp_path / "data.json").write_text(json.dumps(data))
    config = {
        "backend": {"module": "medallion.backends.memory_backend", "module_class": "MemoryBackend",
                    "filename": str(tmp_path / "data.json")},
        "users": {USER: PASSWORD}, "taxii": {"max_page_size": 100},
    }  # fmt: skip
    (tmp_path / "medallion.json").write_text(json.dumps(config))
    log = (tmp_path / "medallion.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "medallion.scripts.run", "--host", "127.0.0.1", "--port", str(port),
         str(tmp_path / "medallion.json")],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/taxii2/", timeout=1)
                break
            except urllib.error.HTTPError:
                break  # 401 without credentials: the server is up
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((tmp_path / "medallion.log").read_text()[-2000:]) from None
                time.sleep(0.2)
        yield root
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def test_push_and_pull_round_trip(
    taxii_root: str, tmp_path: Path, campaigns: list[SharedCampaign]
) -> None:
    bundle = export(campaigns, allow_raw=True)
    (tmp_path / "bundle.json").write_text(json.dumps(bundle))
    write_key(TEST_KEY, tmp_path / "community.key")
    env = {"STILLWATCH_TAXII_PASSWORD": PASSWORD}
    common = ["--taxii", taxii_root, "--collection", COLLECTION, "--user", USER, "--format", "json"]
    pushed = sw("intel", "push", "bundle.json", *common, cwd=tmp_path, env=env)
    assert pushed.returncode == 0, pushed.stderr
    # every object but the extension definition (medallion 3.0.0 cannot serve one)
    assert json.loads(pushed.stdout)["added"] == len(bundle["objects"]) - 1
    again = json.loads(sw("intel", "push", "bundle.json", *common, cwd=tmp_path, env=env).stdout)
    assert again["added"] == 0  # same ids and versions: the server keeps one copy

    pull = ["intel", "pull", *common, "--community-key", "community.key"]
    pulled = sw(*pull, cwd=tmp_path, env=env)
    assert pulled.returncode == 0, pulled.stderr
    row = json.loads(pulled.stdout)
    assert (
        row["status"] == "imported" and row["indicators"] == 9 and row["producer"] == "Provider A"
    )
    assert row["source"].startswith(f"taxii:{taxii_root}collections/{COLLECTION}")
    with open_store(tmp_path / "stillwatch.duckdb") as store:
        stored = {r[0] for r in store.sql("SELECT indicator_id FROM intel_indicators")}
    assert stored == {o["id"] for o in bundle["objects"] if o["type"] == "indicator"}
    assert json.loads(sw(*pull, cwd=tmp_path, env=env).stdout)["status"] == "already imported"

    wrong = sw(*pull, cwd=tmp_path, env={"STILLWATCH_TAXII_PASSWORD": "wrong"})
    assert (
        wrong.returncode == 2
        and wrong.stderr.startswith("error: ")
        and "pull failed" in wrong.stderr
    )
