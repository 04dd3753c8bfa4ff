"""Traffic simulator: legitimate populations with look-alikes, operators, ground truth.

``simulate(scenario="low-and-slow", scale="small", seed=1, out=path)`` writes a data set
folder and returns its summary; ``stillwatch simulate`` is the same from the command line.
"""

from stillwatch.sim.run import simulate
from stillwatch.sim.scenario import catalogue

__all__ = ["catalogue", "simulate"]
