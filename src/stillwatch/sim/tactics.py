"""What operators send: frames that sweep a task space, reasoning elicitation, grader prompts.

A *frame* is the fixed text around a *slot*. Every operator draws a dialect of the shared
grammar (``phrasing``) from its own seed and its frames from that dialect: an operator with
the ``template`` style sends a few frames thousands of times around different slot content,
one with the ``paraphrase`` style rewords the frame on every request within its dialect.
Slot content is what legitimate users send too: benchmark problems, real questions, agent
tasks. Legitimate users speak every family of this wording (``sessions``), so its presence
proves nothing; what the operator cannot hide is the same frames on many of its accounts.
"""

from __future__ import annotations

import re

import numpy as np

from stillwatch.sim.phrasing import GRAMMAR, Grammar, fill
from stillwatch.sim.prompts import PromptLibrary

# The words a person would search for to find reasoning elicitation (used by measures).
COT_PATTERN = re.compile(
    r"step by step|step-by-step|reasoning|think through|thought process|逐步|一步一步|推理过程",
    re.IGNORECASE,
)
CAPABILITY_FAMILY = {
    "coding": "coding",
    "agentic": "agent",
    "long-horizon": "long-horizon",
    "data-analysis": "data-analysis",
    "computer-use": "computer-use",
}


def slot_content(rng: np.random.Generator, lib: PromptLibrary, capability: str) -> str:
    """What goes into a frame's slot: text legitimate users send as well."""
    if capability == "coding":
        if rng.random() < 0.5:
            return lib.coding_problem()
        return lib.conversation(1, coding=True)[0][0][:1200]
    if capability == "agentic":  # a task, or one tool result to act on, as agents send them
        return lib.agent_session(1 if rng.random() < 0.6 else 2)[-1]
    if capability == "data-analysis":
        rows = rng.integers(10, 999, size=(int(rng.integers(3, 7)), 3))
        table = "\n".join(",".join(str(int(x)) for x in r) for r in rows)
        return f"{lib.pasted_sentence()[:200]}\n{table}"
    if capability == "computer-use":
        return lib.pasted_sentence()[:240]
    return lib.conversation(1)[0][0][:600]


class OperatorPrompts:
    """The prompt generator of one operator: its dialect, frames, targets and languages."""

    def __init__(
        self,
        rng: np.random.Generator,
        lib: PromptLibrary,
        capabilities: dict[str, float],
        style: str,
        n_frames: int,
        cot_share: float,
        grader_share: float,
        zh_share: float,
    ) -> None:
        self.rng = rng
        self.lib = lib
        self.caps = list(capabilities)
        w = np.array([capabilities[c] for c in self.caps], dtype=float)
        self.cap_p = w / w.sum()
        self._cap_cum = np.cumsum(self.cap_p)[:-1].tolist()
        self.style = style
        self.cot_share = cot_share
        self.grader_share = grader_share
        self.zh_share = zh_share
        paraphrase = style == "paraphrase"
        self.dialect: Grammar = GRAMMAR.dialect(rng, options=2 if paraphrase else 1, skeletons=2)
        d = self.dialect
        # Each frame: a capability, a task framing with a slot, and its own elicitation.
        self.frames: list[tuple[str, str, str]] = []
        for _ in range(max(1, n_frames)):
            cap = self._capability()
            family = CAPABILITY_FAMILY.get(cap, "coding")
            self.frames.append((cap, d.task_frame(rng, family), d.say(rng, "reasoning")))
        self.zh_frames = [
            (d.say(rng, "zh-task"), d.say(rng, "zh-reasoning"))
            for _ in range(int(rng.integers(1, 4)))
        ]
        self.graders = [d.say(rng, "grader") for _ in range(int(rng.integers(1, 4)))]
        self.openings = [d.say(rng, "smalltalk") for _ in range(int(rng.integers(2, 5)))]

    def _capability(self) -> str:
        u = self.rng.random()
        return self.caps[sum(u >= c for c in self._cap_cum)]

    def _grader(self) -> str:
        r = self.rng
        frame = (
            self.dialect.say(r, "grader")
            if self.style == "paraphrase"
            else self.graders[int(r.random() * len(self.graders))]
        )
        q = self.lib.conversation(1)[0][0][:800]
        return fill(frame, q=q, a=self.lib.pasted_sentence(), b=self.lib.pasted_sentence())

    def prompt(self) -> str:
        """One harvesting request."""
        r = self.rng
        if r.random() < self.grader_share:
            return self._grader()
        cot = r.random() < self.cot_share
        if r.random() < self.zh_share:
            task, elicit = self.zh_frames[int(r.random() * len(self.zh_frames))]
            if self.style == "paraphrase":
                task, elicit = self.dialect.say(r, "zh-task"), self.dialect.say(r, "zh-reasoning")
            text = fill(task, self.lib.chinese_conversation(1)[0])
            return f"{text}\n{elicit}" if cot else text
        if self.style == "paraphrase":
            cap = self._capability()
            frame = self.dialect.task_frame(r, CAPABILITY_FAMILY.get(cap, "coding"))
            elicit = self.dialect.say(r, "reasoning")
        else:
            cap, frame, elicit = self.frames[int(r.random() * len(self.frames))]
        text = fill(frame, slot_content(r, self.lib, cap))
        if cot:
            text = f"{elicit}\n\n{text}" if r.random() < 0.3 else f"{text}\n\n{elicit}"
        return text

    def wrapper_opening(self) -> str:
        """The small talk an evasive operator sends before the real request."""
        if self.style == "paraphrase":
            return self.dialect.say(self.rng, "smalltalk")
        return self.openings[int(self.rng.random() * len(self.openings))]


class RingPrompts:
    """What an abuse ring sends: spam to order, card-testing pings, or resold chat.

    Rings coordinate like operators (one dialect, its frames on every account) but harvest
    no capability: their traffic is marketing text, tiny probes or other people's chats.
    """

    PINGS = ("hi", "test", "ping", "hello", "ok", "1+1", "say hi", "test 123", ".", "hey")

    def __init__(self, rng: np.random.Generator, lib: PromptLibrary, trade: str) -> None:
        self.rng = rng
        self.lib = lib
        self.trade = trade
        d = GRAMMAR.dialect(rng, options=int(rng.integers(1, 3)), skeletons=1)
        self.frames = [d.task_frame(rng, "spam", 0.3, 0.3) for _ in range(int(rng.integers(2, 6)))]

    def prompts(self, n: int) -> tuple[list[str], bool]:
        """``n`` prompts of one session, and whether they are chat (a resold key)."""
        r = self.rng
        if self.trade == "card-testing":
            return [self.PINGS[int(r.random() * len(self.PINGS))] for _ in range(n)], False
        if self.trade == "key-resale":
            return [], True
        out = []
        for _ in range(n):
            frame = self.frames[int(r.random() * len(self.frames))]
            out.append(fill(frame, self.lib.pasted_sentence()[:160]))
        return out, False
