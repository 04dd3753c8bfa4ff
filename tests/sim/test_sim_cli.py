"""``stillwatch simulate`` from the command line: output, scenario files, usage errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

MAIN = "from stillwatch.cli.app import main; main()"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", MAIN, *args], capture_output=True, text=True, timeout=300
    )


def test_simulate_a_scenario_file_prints_json_summary(tmp_path: Path) -> None:
    scenario = tmp_path / "mine.yaml"
    scenario.write_text(
        "scenario: mine\nversion: 3\noperators:\n  - name: x\n    accounts: [20, 30]\n"
        "    rate: [10, 20]\n    style: paraphrase\n"
    )
    out = tmp_path / "data"
    done = _run(
        "simulate",
        "--scenario-file",
        str(scenario),
        "--days",
        "2",
        "--seed",
        "4",
        "--out",
        str(out),
        "--format",
        "json",
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (
        summary["days"] == 2 and summary["scenario"] == "mine" and summary["campaign_accounts"] > 0
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenario_version"] == 3 and manifest["seed"] == 4
    assert {p.name for p in out.iterdir()} >= {
        "exchanges.parquet",
        "accounts.parquet",
        "enforcements.parquet",
        "labels_accounts.parquet",
        "labels_exchanges.parquet",
        "manifest.json",
    }


def test_unknown_scenario_is_a_one_line_usage_error(tmp_path: Path) -> None:
    done = _run("simulate", "--scenario", "no-such", "--out", str(tmp_path / "x"))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "no-such" in done.stderr
    assert "Traceback" not in done.stderr


def test_scenario_file_problems_are_all_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "scenario: bad\nversion: 1\ncolour: red\noperators:\n  - name: x\n    accounts: 5\n    speed: 3\n"
    )
    done = _run("simulate", "--scenario-file", str(bad), "--out", str(tmp_path / "x"))
    assert done.returncode == 2
    assert "colour" in done.stderr and "speed" in done.stderr and str(bad) in done.stderr


def test_ranged_parameters_are_drawn_per_seed() -> None:
    from stillwatch.sim.scenario import load

    drawn = {load("low-and-slow", seed=s).operators[0]["accounts"] for s in range(8)}
    assert len(drawn) > 1 and all(100 <= v <= 130 for v in drawn)
    assert (
        load("low-and-slow", seed=3).operators[0].params
        == load("low-and-slow", seed=3).operators[0].params
    )
