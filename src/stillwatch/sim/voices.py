"""How legitimate users word things: the families campaigns use, in their own dialects.

People ask for step-by-step reasoning, grade answers with a rubric, frame tasks for an
"autonomous agent with shell access", mention the hackathon they are building for, and open
with small talk, in English and Chinese. Each legitimate voice draws its lines from the same
grammar the operators draw from (``phrasing``); an organization's voice is shared by all its
accounts, as an operator's frames are. The share of legitimate accounts speaking each family
is declared once in ``scenario.LEGIT_FAMILY_SHARES``; the manifest reports the shares
measured in the traffic.
"""

from __future__ import annotations

import numpy as np

from stillwatch.sim.phrasing import GRAMMAR, LEGIT_FAMILIES, fill
from stillwatch.sim.prompts import PromptLibrary

BIT = {f: 1 << i for i, f in enumerate(LEGIT_FAMILIES)}
_TASKS = ("coding", "long-horizon", "data-analysis", "computer-use", "agent")
_TASKS_CUM = np.cumsum([0.5, 0.2, 0.15, 0.05, 0.1])[:-1]


# Most accounts send few sessions, so not every account given a family uses it in the window:
# families are assigned this much more often than their target share of accounts speaking it.
REALIZATION = 1.65


def assigned(shares: dict[str, float]) -> dict[str, float]:
    """The assignment probabilities that make ``shares`` the shares of accounts speaking."""
    return {f: min(1.0, s * REALIZATION) for f, s in shares.items()}


def family_bits(rng: np.random.Generator, n: int, shares: dict[str, float]) -> np.ndarray:
    """For ``n`` accounts, the families each speaks (a bit per family), drawn at ``shares``."""
    bits = np.zeros(n, dtype=np.int64)
    for fam, share in shares.items():
        bits |= np.where(rng.random(n) < share, BIT[fam], 0)
    return bits


class Voice:
    """One account's (or one organization's) phrasing of the families it speaks."""

    def __init__(self, rng: np.random.Generator, bits: int) -> None:
        d = GRAMMAR  # a person's lines are drawn one by one: no dialect to keep
        self.families = [f for f in LEGIT_FAMILIES if bits & BIT[f]]
        k = int(rng.integers(1, 3))
        self.lines: dict[str, list[str]] = {}
        for fam in self.families:
            if fam == "reasoning":
                self.lines[fam] = [d.say(rng, "reasoning") for _ in range(k)]
                self.lines["zh-reasoning"] = [d.say(rng, "zh-reasoning")]
            elif fam == "task":
                kinds = np.searchsorted(_TASKS_CUM, rng.random(k), side="right")
                self.lines[fam] = [d.task_frame(rng, _TASKS[int(i)]) for i in kinds]
                self.lines["zh-task"] = [d.say(rng, "zh-task")]
            elif fam == "agent":
                self.lines[fam] = [d.task_frame(rng, "agent", 0.3) for _ in range(k)]
            elif fam == "context":
                self.lines[fam] = [d.say(rng, "context") for _ in range(k)]
                self.lines["zh-context"] = [d.say(rng, "zh-context")]
            else:
                self.lines[fam] = [d.say(rng, fam) for _ in range(k)]

    def apply(
        self, rng: np.random.Generator, lib: PromptLibrary, prompts: list[str], zh: bool
    ) -> tuple[list[str], str]:
        """The session's prompts in this voice (one family per session), and the family."""
        if not self.families or not prompts:
            return prompts, ""
        fam = self.families[int(rng.random() * len(self.families))]

        def line(name: str) -> str:
            key = f"zh-{name}" if zh and f"zh-{name}" in self.lines else name
            opts = self.lines[key]
            return opts[int(rng.random() * len(opts))]

        first = prompts[0]
        if fam == "reasoning":
            elicit = line("reasoning")
            first = f"{elicit}\n\n{first}" if rng.random() < 0.3 else f"{first}\n\n{elicit}"
        elif fam in ("task", "agent"):
            first = fill(line(fam), first)
        elif fam == "context":
            first = f"{line('context')} {first}"
        elif fam == "grader":
            q = first[:800]
            first = fill(line("grader"), q=q, a=lib.pasted_sentence(), b=lib.pasted_sentence())
        elif fam == "smalltalk":
            return [line("smalltalk"), *prompts], fam
        return [first, *prompts[1:]], fam
