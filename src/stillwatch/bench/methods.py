"""The methods ``stillwatch bench quality`` can run, by name, each at its default settings.

Classes are imported on first use, so listing the names costs nothing. ``stillwatch`` is the
detection engine itself; the others are the baselines it is compared with.
"""

from __future__ import annotations

from importlib import import_module

from stillwatch.bench.method import Method
from stillwatch.errors import UsageError

METHODS: dict[str, str] = {
    "stillwatch": "stillwatch.bench.stillwatch_method:StillwatchMethod",
    "isolation-forest": "stillwatch.bench.baselines.isolation_forest:IsolationForestBaseline",
    "synchrotrap": "stillwatch.bench.baselines.synchrotrap:SynchroTrap",
    "fraudar": "stillwatch.bench.baselines.fraudar:Fraudar",
    "content-knn": "stillwatch.bench.baselines.content_knn:ContentNeighbours",
}


# stillwatch with its size intervals unwidened: what `stillwatch bench intervals` calibrates on.
RAW_INTERVALS = "stillwatch@raw-intervals"


def make_method(name: str) -> Method:
    """A method at its default settings, by its registered name. ``stillwatch~F1,F2`` is
    stillwatch without the detector families F1 and F2 (an ablation)."""
    if name == "stillwatch@no-content":
        from stillwatch.bench.stillwatch_method import StillwatchMethod

        return StillwatchMethod(no_content=True)
    if name == RAW_INTERVALS:
        from stillwatch.bench.stillwatch_method import StillwatchMethod

        raw = StillwatchMethod(
            settings={"campaign_unseen_share": 0.0, "campaign_mixture_margin": 0.0}
        )
        raw.name = RAW_INTERVALS
        return raw
    if name.startswith("stillwatch~"):
        from stillwatch.bench.stillwatch_method import StillwatchMethod

        families = tuple(f for f in name.split("~", 1)[1].split(",") if f)
        try:
            return StillwatchMethod(without=families)
        except ValueError as exc:
            raise UsageError(f"--without: {exc}") from None
    if name not in METHODS:
        raise UsageError(f"--methods: unknown method {name!r}; choose from {', '.join(METHODS)}")
    module, _, cls = METHODS[name].partition(":")
    method: Method = getattr(import_module(module), cls)()
    return method
