"""The LiteLLM custom logger: payloads of LiteLLM's standard logging object become canonical
rows in rotating Parquet files that ``stillwatch ingest`` reads, or batches posted to a real
``stillwatch serve``; with LiteLLM installed, also driven by LiteLLM itself (mock responses,
its local model-cost map: nothing fetched)."""

from __future__ import annotations

import copy
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from stillwatch.engine.store import open_store
from stillwatch.ingest.dialects import adapter
from stillwatch.integrations.litellm_logger import StillwatchLogger
from tests.ingest.helpers import run
from tests.web.conftest import Site
from tests.web.live import free_port, running_server

FIXTURE = Path(__file__).parents[1] / "ingest" / "dialects" / "fixtures"
PAYLOAD = json.loads(
    (FIXTURE / "litellm_standard_logging_payload.jsonl").read_text().splitlines()[0]
)


def _payloads(n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        p = copy.deepcopy(PAYLOAD)
        p["id"] = f"llm-{i}"
        p["startTime"] = PAYLOAD["startTime"] + i
        out.append(p)
    return out


def _event(payload: Any) -> dict[str, Any]:
    return {"standard_logging_object": payload, "model": "ignored"}


def test_parquet_files_rotate_and_ingest_as_the_adapter_maps(tmp_path: Path) -> None:
    out = tmp_path / "litellm"
    logger = StillwatchLogger(out_dir=out, rotate_rows=10**9, rotate_seconds=10**9)
    payloads = _payloads(7)
    nameless = copy.deepcopy(PAYLOAD)
    nameless["id"] = "llm-x"
    nameless["metadata"] = {}  # no team, user or key: quarantined
    for p in payloads[:4]:
        logger.log_success_event(_event(p), None, None, None)
    logger.log_success_event({"no": "payload"}, None, None, None)
    assert logger.flush() == 4
    for p in [*payloads[4:], nameless]:
        logger.log_failure_event(_event(p), None, None, None)
    logger.close()
    assert len(sorted(out.glob("*.parquet"))) == 2 == logger.counts["files"]
    assert (logger.counts["events"], logger.counts["missing"]) == (9, 1)
    assert (logger.counts["rows"], logger.counts["quarantined"]) == (7, 1)
    (bad,) = out.glob("*.quarantined.txt")
    assert json.loads(bad.read_text())["reason"].startswith("no account_id")
    with open_store(tmp_path / "s.duckdb") as store:
        result = run(store, out)
        assert not result.errors and result.total("accepted") == 7
        got = store.sql(
            "SELECT * EXCLUDE (_ingest_id, _truncated) FROM exchanges ORDER BY event_id"
        )
    with open_store(tmp_path / "direct.duckdb") as direct:
        lines = tmp_path / "payloads.jsonl"
        lines.write_text("".join(json.dumps(p) + "\n" for p in payloads))
        run(direct, lines, source="litellm")
        want = direct.sql(
            "SELECT * EXCLUDE (_ingest_id, _truncated) FROM exchanges ORDER BY event_id"
        )
    assert got == want


def test_rotation_is_due_by_rows(tmp_path: Path) -> None:
    logger = StillwatchLogger(out_dir=tmp_path, rotate_rows=3, rotate_seconds=10**9)
    for p in _payloads(3):
        logger.log_success_event(_event(p), None, None, None)
    deadline = 50
    while not list(tmp_path.glob("*.parquet")) and deadline:
        import time

        time.sleep(0.1)
        deadline -= 1
    assert len(list(tmp_path.glob("*.parquet"))) == 1


def test_posts_batches_to_a_real_server_and_keeps_them_while_it_is_down(
    site: Site, tmp_path: Path
) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    logger = StillwatchLogger(url=down, token=site.tokens["analyst"], rotate_rows=10**9)
    payloads = _payloads(5)
    for p in payloads:
        logger.log_success_event(_event(p), None, None, None)
    assert logger.flush() == 0 and logger.counts["failed_flushes"] == 1  # kept
    with running_server(site.store, site.casebook, tmp_path / "server.log") as live:
        logger.url = live.url
        assert logger.flush() == 5
        assert logger.flush() == 0  # nothing left
        viewer = StillwatchLogger(url=live.url, token=site.tokens["viewer"])
        viewer.log_success_event(_event(payloads[0]), None, None, None)
        assert viewer.flush() == 0 and viewer.counts["dropped"] == 1  # 403: never retried
    assert logger.counts["rows"] == 5
    with open_store(site.store, read_only=True) as store:
        ids = store.sql("SELECT event_id FROM exchanges WHERE event_id LIKE 'llm-%' ORDER BY 1")
        source = store.sql("SELECT DISTINCT source FROM ingest_runs WHERE file LIKE 'api:%'")
    assert ids == [(f"llm-{i}",) for i in range(5)] and source == [("litellm",)]


def test_from_env_and_bad_configuration() -> None:
    logger = StillwatchLogger.from_env(
        {"STILLWATCH_LITELLM_URL": "http://x", "STILLWATCH_LITELLM_TOKEN": "sw_t"}
    )
    assert logger.url == "http://x" and logger.out_dir is None
    with pytest.raises(ValueError, match="out_dir"):
        StillwatchLogger.from_env({})
    with pytest.raises(ValueError, match="token"):
        StillwatchLogger(url="http://x")


def test_driven_by_litellm_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """LiteLLM's own completion path (a mock response: no provider is called, and the local
    model-cost map: nothing is fetched, which the folder's conftest.py watches) calls the logger
    with its standard logging object. LiteLLM is in requirements.lock, so CI runs this; it skips
    only where the ``litellm`` extra is not installed."""
    litellm = pytest.importorskip("litellm")
    from litellm.integrations.custom_logger import CustomLogger

    logger = StillwatchLogger(out_dir=tmp_path / "out", rotate_rows=10**9, rotate_seconds=10**9)
    assert isinstance(logger, CustomLogger)
    monkeypatch.setattr(litellm, "callbacks", [logger])
    for i in range(3):
        litellm.completion(
            model="gpt-4o",
            messages=[
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": f"q{i}"},
            ],
            mock_response=f"answer {i}",
            metadata={"user_api_key_team_id": "team-7"},
        )
    import time

    deadline = time.monotonic() + 20  # LiteLLM calls success loggers from its own thread
    while logger.counts["events"] < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert logger.flush() == 3
    with open_store(tmp_path / "s.duckdb") as store:
        run(store, tmp_path / "out")
        got = store.sql(
            "SELECT account_id, model, system_prompt, prompt, response, endpoint FROM exchanges "
            "ORDER BY prompt"
        )
    assert got == [
        ("team-7", "gpt-4o", "be brief", f"q{i}", f"answer {i}", "chat.completions")
        for i in range(3)
    ]
    assert adapter("litellm").name == "litellm"
    try:  # LiteLLM says where its cost map came from (in releases that tell)
        from litellm.litellm_core_utils.get_model_cost_map import (
            get_model_cost_map_source_info,
        )
    except ImportError:  # pragma: no cover - older LiteLLM: the network watch is the proof
        return
    source = get_model_cost_map_source_info()
    assert (source["source"], source["url"], source["is_env_forced"]) == ("local", None, True)


def test_the_network_watch_refuses_and_records_an_outside_address(
    nothing_fetched: list[str],
) -> None:
    """The watch of conftest.py that the test above relies on: a name lookup and a connect to
    an outside address are refused before anything is sent (a UDP connect sends nothing
    anyway), loopback is allowed."""
    with pytest.raises(OSError, match="outside this machine"):
        socket.getaddrinfo("example.invalid", 443)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        with pytest.raises(OSError, match="outside this machine"):
            udp.connect(("192.0.2.1", 9))  # TEST-NET-1
        udp.connect(("127.0.0.1", 9))
    socket.getaddrinfo("localhost", 0)
    assert nothing_fetched == [
        "socket.getaddrinfo 'example.invalid'",
        "socket.connect '192.0.2.1'",
    ]
    nothing_fetched.clear()  # recorded as meant: the fixture's own check passes
