"""``stillwatch simulate`` from the command line: output, scenario files, usage errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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


def _one_line_usage_error(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0, done.stderr
    for word in words:
        assert word in done.stderr, (word, done.stderr)


def test_negative_seeds_are_usage_errors(tmp_path: Path) -> None:
    for flag in ("--seed", "--operator-seed"):
        done = _run("simulate", "--scenario", "evasive", flag, "-1", "--out", str(tmp_path / "x"))
        _one_line_usage_error(done, flag)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "line, key",
    [
        ('accounts: "lots"', "operators[0].accounts"),
        ("rate: [30, 10]", "operators[0].rate"),
        ("accounts: -5", "operators[0].accounts"),
        ("style: sideways", "operators[0].style"),
        ("capabilities: {coding: -1}", "operators[0].capabilities"),
        ("frames: 2.5", "operators[0].frames"),
    ],
)
def test_bad_scenario_values_name_file_and_key(tmp_path: Path, line: str, key: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"scenario: bad\nversion: 1\noperators:\n  - name: x\n    {line}\n")
    done = _run("simulate", "--scenario-file", str(bad), "--out", str(tmp_path / "x"))
    _one_line_usage_error(done, str(bad), key)


def test_out_holding_data_is_refused_unless_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "data"
    args = ["simulate", "--scenario", "low-and-slow", "--days", "1", "--out", str(out)]
    assert _run(*args, "--seed", "3").returncode == 0
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    _one_line_usage_error(_run(*args, "--seed", "4"), str(out), "--overwrite")
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before  # untouched
    done = _run(*args, "--seed", "4", "--overwrite", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "manifest.json").read_text())["seed"] == 4
    # a file the simulator did not write is never removed, and stops it
    (out / "day1.jsonl").write_text("{}\n")
    _one_line_usage_error(_run(*args, "--overwrite"), "day1.jsonl")
    assert (out / "day1.jsonl").read_text() == "{}\n"
    assert json.loads((out / "manifest.json").read_text())["seed"] == 4


def test_demo_runs_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    import stillwatch.sim
    from stillwatch.cli.app import _register, app

    _register()  # the commands, as main() registers them
    real = stillwatch.sim.simulate
    monkeypatch.setattr(stillwatch.sim, "simulate", lambda **kw: real(**kw, days=1))
    for _ in range(2):
        result = CliRunner().invoke(app, ["demo", "--workdir", str(tmp_path), "--format", "json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["simulated"]["days"] == 1


def test_operator_seed_keeps_the_operator_across_populations(tmp_path: Path) -> None:
    """One operator seed, two population seeds: the same operator (ids, frames, cards) among
    different legitimate accounts; another operator seed gives another operator."""
    import duckdb

    from stillwatch.sim import simulate

    runs = {"a": (5, 9), "b": (6, 9), "c": (5, 10)}
    for name, (seed, op_seed) in runs.items():
        simulate(
            scenario="hydra-loud", seed=seed, operator_seed=op_seed, out=tmp_path / name, days=2
        )
    con = duckdb.connect()

    def q(name: str, sql: str) -> set:
        return {r[0] for r in con.execute(sql.replace("{d}", str(tmp_path / name))).fetchall()}

    ops = {n: q(n, "SELECT DISTINCT operator_id FROM '{d}/labels_accounts.parquet' WHERE operator_id IS NOT NULL") for n in runs}  # fmt: skip
    cards = {n: q(n, "SELECT payment_fingerprint FROM '{d}/accounts.parquet' JOIN '{d}/labels_accounts.parquet' USING (account_id) WHERE kind = 'campaign' AND payment_fingerprint IS NOT NULL") for n in runs}  # fmt: skip
    legit = {n: q(n, "SELECT account_id FROM '{d}/labels_accounts.parquet' WHERE kind <> 'campaign'") for n in runs}  # fmt: skip
    firsts = {n: q(n, "SELECT split_part(prompt, chr(10), 1) FROM '{d}/exchanges.parquet' JOIN '{d}/labels_exchanges.parquet' USING (event_id)") for n in runs}  # fmt: skip
    assert ops["a"] == ops["b"] and not ops["a"] & ops["c"]
    assert cards["a"] & cards["b"] and not cards["a"] & cards["c"]  # pooled cards
    assert not legit["a"] & legit["b"]
    shared = len(firsts["a"] & firsts["b"]) / len(firsts["a"] | firsts["b"])
    other = len(firsts["a"] & firsts["c"]) / len(firsts["a"] | firsts["c"])
    assert shared > 3 * other, (shared, other)
