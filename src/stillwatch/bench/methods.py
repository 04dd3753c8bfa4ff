"""The methods ``stillwatch bench quality`` can run, by name, each at its default settings.

Until the detection engine lands, the baselines run alone; the engine registers here as
``stillwatch`` when it exists.
"""

from __future__ import annotations

from collections.abc import Callable

from stillwatch.bench.baselines.content_knn import ContentNeighbours
from stillwatch.bench.baselines.fraudar import Fraudar
from stillwatch.bench.baselines.isolation_forest import IsolationForestBaseline
from stillwatch.bench.baselines.synchrotrap import SynchroTrap
from stillwatch.bench.method import Method
from stillwatch.errors import UsageError

METHODS: dict[str, Callable[[], Method]] = {
    IsolationForestBaseline.name: IsolationForestBaseline,
    SynchroTrap.name: SynchroTrap,
    Fraudar.name: Fraudar,
    ContentNeighbours.name: ContentNeighbours,
}


def make_method(name: str) -> Method:
    if name not in METHODS:
        raise UsageError(f"--methods: unknown method {name!r}; choose from {', '.join(METHODS)}")
    return METHODS[name]()
