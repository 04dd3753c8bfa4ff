"""The methods ``stillwatch bench quality`` can run, by name, each at its default settings.

Classes are imported on first use, so listing the names costs nothing. Until the detection
engine lands, the baselines run alone; the engine registers here as ``stillwatch`` when it
exists.
"""

from __future__ import annotations

from importlib import import_module

from stillwatch.bench.method import Method
from stillwatch.errors import UsageError

METHODS: dict[str, str] = {
    "isolation-forest": "stillwatch.bench.baselines.isolation_forest:IsolationForestBaseline",
    "synchrotrap": "stillwatch.bench.baselines.synchrotrap:SynchroTrap",
    "fraudar": "stillwatch.bench.baselines.fraudar:Fraudar",
    "content-knn": "stillwatch.bench.baselines.content_knn:ContentNeighbours",
}


def make_method(name: str) -> Method:
    """A method at its default settings, by its registered name."""
    if name not in METHODS:
        raise UsageError(f"--methods: unknown method {name!r}; choose from {', '.join(METHODS)}")
    module, _, cls = METHODS[name].partition(":")
    method: Method = getattr(import_module(module), cls)()
    return method
