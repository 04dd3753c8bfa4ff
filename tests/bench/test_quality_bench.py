"""bench quality end to end on a tiny data-set folder written here (no simulator needed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from stillwatch.bench.dataset import Dataset
from stillwatch.bench.quality import (
    QualityBench,
    _current_versions,
    dataset_folder,
    ensure_dataset,
    simulator_source_digest,
)
from stillwatch.bench.truth import Truth
from stillwatch.cli.app import app
from stillwatch.cli.bench_quality import parse_seeds
from stillwatch.errors import UsageError
from tests.bench.planted_traffic import accounts, at, exchanges


def write_dataset(folder: Path, seed: int) -> None:
    """Six hydra accounts (one campaign) in sync on one /24, forty ordinary users."""
    rng = np.random.default_rng(seed)
    rows, labels_exchanges = [], []
    for k in range(6):
        for hour in range(12):
            rows.append({"event_id": f"h{k}-{hour}", "account_id": f"hydra{k}",
                         "ts": at(24 * 3 + hour + rng.uniform(0, 0.9)),
                         "ip": f"203.0.113.{k}", "asn": 64500, "tls_fingerprint": "fp-bot"})  # fmt: skip
            labels_exchanges.append({"event_id": f"h{k}-{hour}", "campaign_id": "C1"})
    for k in range(40):
        for j, hour in enumerate(rng.choice(24 * 5, size=6, replace=False)):
            rows.append({"event_id": f"u{k}-{j}", "account_id": f"user{k}", "ts": at(float(hour)),
                         "ip": f"10.{k}.0.1", "asn": 64000 + k, "tls_fingerprint": "fp-sdk"})  # fmt: skip
    folder.mkdir(parents=True)
    table = exchanges(rows)
    (folder / "exchanges").mkdir()  # a table as a folder of parts
    pq.write_table(table.slice(0, 100), folder / "exchanges" / "part-0.parquet")
    pq.write_table(table.slice(100), folder / "exchanges" / "part-1.parquet")
    pq.write_table(
        accounts([{"account_id": f"hydra{k}", "created_at": at(k)} for k in range(6)]),
        folder / "accounts.parquet",
    )
    labels = [("hydra", 6, "OP1", "C1", "campaign"), ("user", 40, None, None, "benign:shared-nat")]
    pq.write_table(
        pa.table(
            {
                "account_id": [f"{p}{k}" for p, n, *_ in labels for k in range(n)],
                "operator_id": pa.array(
                    [o for _, n, o, _, _ in labels for _ in range(n)], pa.string()
                ),
                "campaign_id": pa.array(
                    [c for _, n, _, c, _ in labels for _ in range(n)], pa.string()
                ),
                "kind": [kind for _, n, _, _, kind in labels for _ in range(n)],
            }
        ),
        folder / "labels_accounts.parquet",
    )
    pq.write_table(pa.Table.from_pylist(labels_exchanges), folder / "labels_exchanges.parquet")
    manifest = {**_current_versions("hydra-loud"), "seed": seed}
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    for seed in (1000, 1001):
        write_dataset(dataset_folder(tmp_path, "hydra-loud", "small", seed), seed)
    return tmp_path


def test_loader_reads_parts_and_fills_missing_columns(data_root):
    dataset = Dataset.from_folder(dataset_folder(data_root, "hydra-loud", "small", 1000))
    counts = dataset.query(
        "SELECT count(*) AS n, count(prompt) AS prompts, min(ts) AS first FROM exchanges"
    ).to_pylist()[0]
    assert counts["n"] == 6 * 12 + 40 * 6
    assert counts["prompts"] == 0  # not in the files: present, and NULL
    assert str(counts["first"].tzinfo) == "UTC"
    assert dataset.query("SELECT count(*) AS n FROM enforcements").column("n")[0].as_py() == 0
    # The labels are not among the views a method can read.
    with pytest.raises(Exception, match="labels_accounts"):
        dataset.query("SELECT * FROM labels_accounts")


def test_truth_from_folder(data_root):
    truth = Truth.from_folder(dataset_folder(data_root, "hydra-loud", "small", 1000))
    assert int(truth.in_campaign.sum()) == 6
    c1 = truth.campaigns["C1"]
    assert (c1.accounts, c1.exchanges, c1.operator_id) == (6, 72, "OP1")
    assert c1.first_day == c1.last_day == at(72).date()


def test_bench_scores_each_method_on_each_seed(data_root):
    payload = QualityBench(
        scenarios=["hydra-loud"],
        scale="small",
        seeds=[1000, 1001],
        methods=["synchrotrap", "fraudar"],
        data_root=data_root,
        isolate=False,
    ).run()
    (scenario,) = payload["scenarios"]
    assert scenario["scenario_version"] == _current_versions("hydra-loud")["scenario_version"]
    assert len(scenario["runs"]) == 4
    worst = scenario["worst"]["synchrotrap"]
    assert worst["recall"] == pytest.approx(1.0)
    assert worst["precision"] == pytest.approx(1.0)
    assert worst["bcubed_f1"] == pytest.approx(1.0)
    assert worst["exchanges_relative_error"] == pytest.approx(0.0)
    assert worst["interval_coverage"] == pytest.approx(1.0)
    assert worst["false_positives:shared-nat"] == 0
    assert payload["settings"]["methods"]["synchrotrap"]["params"]["bucket_minutes"] == 60


def test_isolated_run_measures_memory(data_root):
    isolated, here = (
        QualityBench(
            ["hydra-loud"], "small", [1000], ["synchrotrap"], data_root, isolate=flag
        ).run()["scenarios"][0]["runs"][0]
        for flag in (True, False)
    )
    # a fresh interpreter with numpy, scipy and duckdb loaded holds tens of megabytes
    assert isolated["peak_memory_mb"] is not None and 30 < isolated["peak_memory_mb"] < 4000
    assert here["peak_memory_mb"] is None  # in-process runs measure no memory
    assert 0 < isolated["wall_seconds"] < 120
    # the child process scored the same result as this one
    assert isolated["figures"] == here["figures"]
    assert isolated["figures"]["recall"] == pytest.approx(1.0)


def test_cli_prints_a_table_and_json(data_root):
    args = ["bench", "quality", "--scenario", "hydra-loud", "--seeds", "1000-1001",
            "--methods", "synchrotrap,content-knn", "--data-dir", str(data_root), "--in-process"]  # fmt: skip
    runner = CliRunner()
    table = runner.invoke(app, args)
    assert table.exit_code == 0, table.output
    as_json = runner.invoke(app, [*args, "--format", "json"])
    assert as_json.exit_code == 0
    payload = json.loads(as_json.stdout)
    assert payload["settings"]["seeds"] == [1000, 1001]
    (scenario,) = payload["scenarios"]
    assert [(r["seed"], r["method"]) for r in scenario["runs"]] == [
        (s, m) for s in (1000, 1001) for m in ("synchrotrap", "content-knn")
    ]
    sync = scenario["worst"]["synchrotrap"]
    # the planted hydra: six accounts in sync on one /24, found whole by synchrotrap
    assert (sync["precision"], sync["recall"], sync["flagged"]) == (1.0, 1.0, 6)
    assert sync["false_positives"] == 0 and sync["seeds"] == 2
    # the table prints those same figures, row by row
    lines = {ln.split("│")[1].strip(): ln for ln in table.output.splitlines() if "│" in ln}
    cells = [c.strip() for c in lines["recall"].split("│")[2:-1]]
    assert cells[0] == "1.000"
    assert lines["flagged accounts"].split("│")[2].strip() == "6"


def test_cli_rejects_unknown_choices(data_root):
    result = CliRunner().invoke(app, ["bench", "quality", "--scale", "huge"])
    assert isinstance(result.exception, UsageError)
    assert "--scale" in str(result.exception) and "huge" in str(result.exception)
    result = CliRunner().invoke(app, ["bench", "quality", "--methods", "oracle"])
    assert isinstance(result.exception, UsageError) and "oracle" in str(result.exception)


def test_parse_seeds():
    assert parse_seeds("1000-1002") == [1000, 1001, 1002]
    assert parse_seeds("1-3,7,2") == [1, 2, 3, 7]
    with pytest.raises(UsageError, match="--seeds"):
        parse_seeds("x")
    with pytest.raises(UsageError, match="--seeds"):
        parse_seeds("5-1")


def test_loader_reads_json_lines_with_text_or_epoch_timestamps(tmp_path):
    rows = [
        {"event_id": "e1", "ts": "2026-04-22T13:05:09.123Z", "account_id": "a", "model": "m"},
        {"event_id": "e2", "ts": "2026-04-22T14:00:00Z", "account_id": "b", "model": "m"},
    ]
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "exchanges.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    epoch = [dict(r, ts=1776863109123 + k) for k, r in enumerate(rows)]
    (tmp_path / "epoch").mkdir()
    (tmp_path / "epoch" / "exchanges.jsonl").write_text("\n".join(json.dumps(r) for r in epoch))
    for name in ("text", "epoch"):
        first = Dataset.from_folder(tmp_path / name).query("SELECT min(ts) AS t FROM exchanges")
        moment = first.column("t")[0].as_py()
        assert (moment.year, moment.month, moment.day, moment.hour) == (2026, 4, 22, 13)
        assert moment.utcoffset().total_seconds() == 0


def test_data_sets_are_reused_only_when_current(data_root, monkeypatch):
    import stillwatch.sim

    simulated: list[Path] = []

    def fake_simulate(scenario: str, scale: str, seed: int, out: Path) -> dict:
        simulated.append(Path(out))
        Path(out).mkdir(parents=True)
        return {}

    monkeypatch.setattr(stillwatch.sim, "simulate", fake_simulate)
    current = dataset_folder(data_root, "hydra-loud", "small", 1000)
    assert ensure_dataset(data_root, "hydra-loud", "small", 1000) == current
    assert simulated == []  # written by the current simulator: reused
    stale = dataset_folder(data_root, "hydra-loud", "small", 1001)
    (stale / "manifest.json").write_text(json.dumps({"simulator_version": "0"}))
    assert ensure_dataset(data_root, "hydra-loud", "small", 1001) == stale
    assert simulated == [stale]
    assert not (stale / "exchanges").exists()  # the old files are gone
    assert (stale / "bench-simulator-source.txt").read_text().strip() == simulator_source_digest()
    # Same version numbers, different simulator code: simulated afresh too.
    (current / "bench-simulator-source.txt").write_text("an older simulator\n")
    ensure_dataset(data_root, "hydra-loud", "small", 1000)
    assert simulated == [stale, current]


def test_a_users_scenario_file_is_simulated_under_its_name_and_again_when_edited(
    tmp_path, monkeypatch
):
    import stillwatch.sim

    calls: list[tuple[Path, Path]] = []

    def fake_simulate(scale: str, seed: int, out: Path, scenario_file: Path) -> dict:
        calls.append((Path(scenario_file), Path(out)))
        Path(out).mkdir(parents=True)
        (Path(out) / "manifest.json").write_text(json.dumps(_current_versions(str(file))))
        return {}

    monkeypatch.setattr(stillwatch.sim, "simulate", fake_simulate)
    shipped = Path(stillwatch.sim.__file__).parent / "scenarios" / "tiny-ring.yaml"
    assert not shipped.exists()  # not a shipped name: only the file says what it plants
    file = tmp_path / "tiny-ring.yaml"
    file.write_text(
        Path(__file__).parents[2].joinpath("docs", "scenarios", "tiny-ring.yaml").read_text()
    )
    folder = ensure_dataset(tmp_path / "data", str(file), "small", 3)
    assert folder.parent.parent.name.startswith("tiny-ring-")
    assert folder.parents[2] == tmp_path / "data" / "files"  # apart from shipped names
    assert calls == [(file, folder)]
    assert ensure_dataset(tmp_path / "data", str(file), "small", 3) == folder
    assert len(calls) == 1  # the same file: reused
    file.write_text(file.read_text().replace("accounts: [12, 20]", "accounts: [12, 24]"))
    ensure_dataset(tmp_path / "data", str(file), "small", 3)
    assert len(calls) == 2  # edited, its version unchanged: simulated again
    # a file of the same name elsewhere (an edited copy) gets a data set of its own
    other = tmp_path / "copy" / "tiny-ring.yaml"
    other.parent.mkdir()
    other.write_text(file.read_text())
    assert ensure_dataset(tmp_path / "data", str(other), "small", 3) != folder
    assert len(calls) == 3
    # a file's data set without the bench's mark (written by hand) is not trusted
    (folder / "bench-simulator-source.txt").unlink()
    ensure_dataset(tmp_path / "data", str(file), "small", 3)
    assert len(calls) == 4


def test_cli_names_a_missing_scenario_file(tmp_path):
    result = CliRunner().invoke(
        app, ["bench", "quality", "--scenario", str(tmp_path / "nope.yaml"), "--seeds", "1000"]
    )
    assert isinstance(result.exception, UsageError)
    assert "nope.yaml: no such scenario file" in str(result.exception)
