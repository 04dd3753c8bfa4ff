"""The commands as a user runs them: exit codes, one-line errors, settings, forget."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stillwatch.settings import resolve
from tests.ingest.helpers import exchange, write_jsonl


def sw(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from stillwatch.cli.app import main; main()", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )


def test_ingest_exit_codes_and_json(tmp_path: Path) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", [exchange(1), exchange(2)])
    mixed = write_jsonl(tmp_path / "mixed.jsonl", [exchange(3), "oops"])
    done = sw("ingest", str(good), "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["totals"]["accepted"] == 2
    assert (tmp_path / "stillwatch.duckdb").exists()
    flagged = sw("ingest", str(mixed), "--fail-on-quarantine", cwd=tmp_path)
    assert flagged.returncode == 1
    missing = sw("ingest", str(tmp_path / "nope.jsonl"), cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip().count("\n") == 0 and "no such file" in missing.stderr
    (tmp_path / "bad.parquet").write_text("nope")
    bad = sw("ingest", str(tmp_path / "bad.parquet"), cwd=tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "bad.parquet: not a Parquet file" in bad.stderr
    status = json.loads(sw("status", "--format", "json", cwd=tmp_path).stdout)
    assert status["tables"]["exchanges"] == 3
    q = json.loads(sw("quarantine", "--format", "json", cwd=tmp_path).stdout)
    assert q["total"] == 1 and q["rows"][0]["line"] == 2


def test_forget_deletes_everywhere_and_records(tmp_path: Path) -> None:
    ex = write_jsonl(
        tmp_path / "ex.jsonl", [exchange(i) for i in range(6)] + ['{"account_id": "a1"}']
    )
    acc = write_jsonl(tmp_path / "acc.jsonl", [{"account_id": "a1"}, {"account_id": "a2"}])
    assert sw("ingest", str(ex), "--accounts", str(acc), cwd=tmp_path).returncode == 0
    out = sw("forget", "a1", "--format", "json", cwd=tmp_path)
    deleted = json.loads(out.stdout)["deleted"]
    assert json.loads(out.stdout)["rewrite_seconds"] > 0
    expected = {"exchanges": 2, "accounts": 1, "quarantine": 1}
    assert {k: v for k, v in deleted.items() if v} == expected
    assert {
        "accounts_history",
        "enforcements",
        "signals",
        "account_scores",
        "intel_matches",
    } <= set(deleted)
    status = json.loads(sw("status", "--format", "json", cwd=tmp_path).stdout)
    assert status["tables"]["exchanges"] == 4 and status["tables"]["forget_requests"] == 1


def test_settings_precedence(tmp_path: Path) -> None:
    cfg = tmp_path / "conf.toml"
    cfg.write_text('store = "from-file.duckdb"\nbatch_rows = 7\n')
    env = {"STILLWATCH_CONFIG": str(cfg), "STILLWATCH_BATCH_ROWS": "9"}
    r = resolve({"store": "from-flag.duckdb"}, env)
    assert r.store == "from-flag.duckdb" and r.sources["store"] == "flag"
    assert r.batch_rows == 9 and r.sources["batch_rows"].startswith("env")
    r = resolve({}, {"STILLWATCH_CONFIG": str(cfg)})
    assert r.store == "from-file.duckdb" and r.batch_rows == 7
    assert r.max_text_bytes == 1024 * 1024 and r.sources["max_text_bytes"] == "default"
    shown = sw("config", "--format", "json", cwd=tmp_path, env={"STILLWATCH_STORE": "x.duckdb"})
    rows = {row["setting"]: row for row in json.loads(shown.stdout)}
    assert (
        rows["store"]["value"] == "x.duckdb" and rows["store"]["source"] == "env STILLWATCH_STORE"
    )
    cfg.write_text("colour = 1\n")
    bad = sw("config", cwd=tmp_path, env={"STILLWATCH_CONFIG": str(cfg)})
    assert bad.returncode == 2 and "unknown setting(s) colour" in bad.stderr


def test_every_setting_and_command_is_documented() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    from stillwatch.settings import SETTINGS

    for s in SETTINGS:
        assert f"`{s.name}`" in readme, f"setting {s.name} missing from README"
    for command in ("ingest", "status", "quarantine", "forget", "config", "demo", "bench ingest"):
        assert f"stillwatch {command}" in readme, f"command {command} missing from README"


def test_11_bad_values_are_one_line_usage_errors(tmp_path: Path) -> None:
    """`quarantine --limit -1` and STILLWATCH_MEMORY_LIMIT=1KB gave tracebacks;
    STILLWATCH_THREADS=0 was refused although 0 means one per core."""
    good = write_jsonl(tmp_path / "good.jsonl", [exchange(1)])
    assert sw("ingest", str(good), cwd=tmp_path).returncode == 0
    cases = [
        (("quarantine", "--limit", "-1"), {}, "--limit must be 0 or more"),
        (("status",), {"STILLWATCH_MEMORY_LIMIT": "1KB"}, "memory_limit"),
        (("status",), {"STILLWATCH_MEMORY_LIMIT": "lots"}, "a size such as 1GB"),
        (("status",), {"STILLWATCH_THREADS": "-1"}, "threads"),
        (("forget", ""), {}, "account id is empty"),
    ]
    for args, env, message in cases:
        done = sw(*args, cwd=tmp_path, env=env)
        assert done.returncode == 2, (args, done.stderr)
        assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr
        assert message in done.stderr
    threads = sw("status", "--format", "json", cwd=tmp_path, env={"STILLWATCH_THREADS": "0"})
    assert threads.returncode == 0, threads.stderr
    assert json.loads(threads.stdout)["tables"]["exchanges"] == 1


def test_an_error_that_follows_ctrl_c_exits_130_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Ctrl-C that DuckDB turns into another error (a table handed to SQL reads as missing)
    is still the interruption: exit 130, one line. Without a Ctrl-C the error stays an error."""
    import contextlib
    import signal

    import duckdb

    from stillwatch.cli import app as app_module

    def interrupted_then_lost() -> None:
        # swallowed, as DuckDB's replacement scan does
        with contextlib.suppress(KeyboardInterrupt):
            app_module._CtrlC.handle(signal.SIGINT, None)
        raise duckdb.CatalogException("Table with name stage does not exist!")

    monkeypatch.setattr(app_module, "_register", lambda: None)
    monkeypatch.setattr(app_module, "app", interrupted_then_lost)
    monkeypatch.setattr(app_module._CtrlC, "seen", False)
    with pytest.raises(SystemExit) as ended:
        app_module.main()
    assert ended.value.code == 130
    assert "interrupted" in capsys.readouterr().err

    def lost() -> None:
        raise duckdb.CatalogException("Table with name stage does not exist!")

    monkeypatch.setattr(app_module, "app", lost)
    monkeypatch.setattr(app_module._CtrlC, "seen", False)
    with pytest.raises(duckdb.CatalogException):
        app_module.main()
    signal.signal(signal.SIGINT, signal.default_int_handler)
