"""``stillwatch bench quality``: simulate (or reuse) data, run every method, score them alike.

Figures hold for the worst of the seeds (METRICS.md): per method, each figure's worst value
over the seeds is reported beside every seed's own. Interval coverage pools the seeds.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stillwatch.bench.dataset import Dataset
from stillwatch.bench.measure import MethodRun, run_here, run_isolated
from stillwatch.bench.methods import make_method
from stillwatch.bench.truth import Truth
from stillwatch.errors import StillwatchError

if TYPE_CHECKING:
    from stillwatch.bench.scorer import QualityFigures

SCENARIOS = (
    "hydra-loud",
    "low-and-slow",
    "proxy-mixed",
    "evasive",
    "release-pivot",
    "look-alikes-only",
    "multi-operator",
    "bought-accounts",
)
SCALES = ("small", "medium", "large")
DEFAULT_SEEDS = (1000, 1001, 1002)

# Figure: True where higher is better (worst = lowest), False where lower is better.
HIGHER_IS_BETTER: dict[str, bool] = {
    "pr_auc": True,
    "roc_auc": True,
    "precision": True,
    "recall": True,
    "bcubed_f1": True,
    "ari": True,
    "operator_attribution": True,
    "campaigns_matched_share": True,
    "flagged": False,
    "false_positives": False,
    "fp_per_10k": False,
    "exchanges_relative_error": False,
    "accounts_relative_error": False,
    "first_day_error": False,
    "last_day_error": False,
    "wall_seconds": False,
    "ingest_seconds": False,
    "peak_memory_mb": False,
}


@dataclass
class SeedRun:
    seed: int
    method: str
    figures: QualityFigures
    wall_seconds: float
    peak_memory_mb: float | None
    ingest_seconds: float | None = None

    def flat(self) -> dict[str, Any]:
        """Every figure of this run keyed by name, per-kind rates spread out."""
        f = self.figures
        out: dict[str, Any] = {k: getattr(f, k) for k in HIGHER_IS_BETTER if hasattr(f, k)}
        out["campaigns_matched_share"] = (
            f.campaigns_matched / f.true_campaigns if f.true_campaigns else None
        )
        out["wall_seconds"] = self.wall_seconds
        out["ingest_seconds"] = self.ingest_seconds
        out["peak_memory_mb"] = self.peak_memory_mb
        for kind, rate in (f.fp_per_10k_by_kind or {}).items():
            out[f"fp_per_10k:{kind}"] = rate
        for kind, count in f.false_positives_by_kind.items():
            out[f"false_positives:{kind}"] = count
        return out


@dataclass
class ScenarioResult:
    scenario: str
    scale: str
    manifests: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: list[SeedRun] = field(default_factory=list)

    @property
    def scenario_version(self) -> Any:
        """The scenario file's version, as the simulator's manifests record it."""
        versions = {
            str(m.get("scenario_version", m.get("version")))
            for m in self.manifests.values()
            if m.get("scenario_version", m.get("version")) is not None
        }
        return versions.pop() if len(versions) == 1 else sorted(versions) or None

    def worst(self, method: str) -> dict[str, Any]:
        """Each figure's worst value over the seeds; coverage pooled over them."""
        mine = [r for r in self.runs if r.method == method]
        flats = [r.flat() for r in mine]
        names = sorted({k for f in flats for k in f})
        out: dict[str, Any] = {}
        for name in names:
            values = [float(f[name]) for f in flats if f.get(name) is not None]
            if not values:
                out[name] = None
                continue
            higher_better = HIGHER_IS_BETTER.get(name.split(":")[0], False)
            out[name] = min(values) if higher_better else max(values)
        matched = sum(r.figures.campaigns_matched for r in mine)
        covered = sum(r.figures.covered for r in mine)
        out["interval_coverage"] = covered / matched if matched else None
        out["seeds"] = len(mine)
        return out

    def as_dict(self, methods: Sequence[str]) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "scale": self.scale,
            "scenario_version": self.scenario_version,
            "manifests": self.manifests,
            "worst": {m: self.worst(m) for m in methods},
            "runs": [
                {
                    "seed": r.seed,
                    "method": r.method,
                    "wall_seconds": r.wall_seconds,
                    "peak_memory_mb": r.peak_memory_mb,
                    "figures": r.figures.as_dict(),
                }
                for r in self.runs
            ],
        }


def scenario_file(scenario: str) -> Path | None:
    """The scenario file ``scenario`` names (a path ending in ``.yaml`` or ``.yml``: a user's
    own scenario), or None for a shipped scenario's name."""
    return Path(scenario) if scenario.lower().endswith((".yaml", ".yml")) else None


def dataset_folder(root: Path, scenario: str, scale: str, seed: int) -> Path:
    """Where (scenario, scale, seed)'s data set is kept: a scenario file's under ``files/``,
    by its stem and where it lives (a copy of a shipped scenario, or two files of one name,
    never share a data set)."""
    file = scenario_file(scenario)
    if file is None:
        return root / scenario / scale / f"seed-{seed}"
    where = hashlib.sha256(str(file.resolve()).encode()).hexdigest()[:8]
    return root / "files" / f"{file.stem}-{where}" / scale / f"seed-{seed}"


SOURCE_MARK = "bench-simulator-source.txt"


def _current_versions(scenario: str) -> dict[str, str]:
    """The simulator's and the scenario file's versions as they stand now."""
    from stillwatch.sim import run
    from stillwatch.sim import scenario as scenarios

    file = scenario_file(scenario)
    loaded = scenarios.load(file=file) if file else scenarios.load(scenario)
    return {
        "simulator_version": str(run.SIMULATOR_VERSION),
        "scenario_version": str(loaded.version),
    }


def simulator_source_digest(file: Path | None = None) -> str:
    """SHA-256 over the simulator's code and scenario files (and a user's scenario ``file``):
    changes even when a version number was not bumped."""
    import stillwatch.sim

    package = Path(stillwatch.sim.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(p for p in package.rglob("*") if p.suffix in {".py", ".yaml"}):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    if file is not None:
        digest.update(b"scenario file\0" + file.read_bytes())
    return digest.hexdigest()


def _is_current(folder: Path, scenario: str) -> bool:
    recorded = json.loads((folder / "manifest.json").read_text())
    current = _current_versions(scenario)
    if any(str(recorded.get(k)) != v for k, v in current.items()):
        return False
    # Data sets this bench simulated carry the source digest; others are taken on versions
    # (never a scenario file's: its version is whatever its author left it at).
    mark = folder / SOURCE_MARK
    file = scenario_file(scenario)
    if not mark.is_file():
        return file is None
    return mark.read_text().strip() == simulator_source_digest(file)


def ensure_dataset(root: Path, scenario: str, scale: str, seed: int) -> Path:
    """The simulated data set for (scenario, scale, seed): reused when already written by the
    current simulator from the current scenario file, simulated afresh otherwise."""
    folder = dataset_folder(root, scenario, scale, seed)
    manifest = folder / "manifest.json"
    try:
        from stillwatch.sim import simulate
    except ImportError as exc:
        if manifest.is_file():
            return folder
        raise StillwatchError(
            f"the simulator is not available ({exc}); write the data set to {folder} "
            "or install a stillwatch with stillwatch.sim.simulate"
        ) from exc
    if manifest.is_file():
        if _is_current(folder, scenario):
            return folder
        shutil.rmtree(folder)  # written by an older simulator or scenario file
    folder.parent.mkdir(parents=True, exist_ok=True)
    file = scenario_file(scenario)
    if file:
        simulate(scenario_file=file, scale=scale, seed=seed, out=folder)
    else:
        simulate(scenario=scenario, scale=scale, seed=seed, out=folder)
    (folder / SOURCE_MARK).write_text(simulator_source_digest(file) + "\n")
    return folder


@dataclass
class QualityBench:
    scenarios: Sequence[str]
    scale: str
    seeds: Sequence[int]
    methods: Sequence[str]
    data_root: Path
    isolate: bool = True
    no_content: bool = False
    progress: Callable[[str], None] = lambda _: None

    def settings(self) -> dict[str, Any]:
        try:
            version = metadata.version("stillwatch")
        except metadata.PackageNotFoundError:  # run from a source tree
            version = "unknown"
        return {
            "stillwatch_version": version,
            "scenarios": list(self.scenarios),
            "scale": self.scale,
            "seeds": list(self.seeds),
            "no_content": self.no_content,
            "methods": {
                name: {"version": m.version, "params": m.params()}
                for name, m in ((n, make_method(n)) for n in self.methods)
            },
            "host": {"python": platform.python_version(), "machine": platform.machine()},
        }

    def run_scenario(self, scenario: str) -> ScenarioResult:
        out = ScenarioResult(scenario, self.scale)
        for seed in self.seeds:
            start = time.perf_counter()
            folder = ensure_dataset(self.data_root, scenario, self.scale, seed)
            self.progress(
                f"{scenario} seed {seed}: data ready ({time.perf_counter() - start:.1f} s)"
            )
            out.manifests[str(seed)] = Dataset.from_folder(folder).manifest()
            from stillwatch.bench.scorer import score  # sklearn: loaded when a run starts

            truth = Truth.from_folder(folder)
            for method in self.methods:
                runner = run_isolated if self.isolate else run_here
                run: MethodRun = runner(method, folder, self.no_content)
                figures = score(truth, run.result)
                out.runs.append(
                    SeedRun(
                        seed, method, figures, run.wall_seconds, run.peak_memory_mb,
                        run.result.stage_seconds.get("ingest"),
                    )
                )  # fmt: skip
                self.progress(
                    f"{scenario} seed {seed}: {method} {run.wall_seconds:.1f} s, "
                    f"{figures.flagged} flagged"
                )
        return out

    def run(self) -> dict[str, Any]:
        results = [self.run_scenario(s) for s in self.scenarios]
        return {
            "bench": "quality",
            "settings": self.settings(),
            "scenarios": [r.as_dict(self.methods) for r in results],
        }
