"""The text of one session: the user turns an account of a given content kind sends.

Returns the prompts in order, the length in characters of each answer where the corpus has
one, and whether the session served a campaign (a hydra account also forwards resold
legitimate traffic).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stillwatch.sim.cast import AGENT, APP, CAMPAIGN, CHAT, CODING, EVAL, OSS, ROUTER, VENDOR
from stillwatch.sim.prompts import LEGIT_COT, PromptLibrary, vendor_item
from stillwatch.sim.tactics import OperatorPrompts


@dataclass
class SessionText:
    prompts: list[str]
    answers: list[int]
    campaign: bool
    retries: bool = False  # the prompts are retries of one request, not turns of a conversation


class SessionWriter:
    """Turns (account behaviour, session) into prompt text."""

    def __init__(
        self,
        rng: np.random.Generator,
        lib: PromptLibrary,
        operators: list[OperatorPrompts],
        templates: list[str],
        wrappers: list[bool],
    ) -> None:
        self.rng = rng
        self.lib = lib
        self.operators = operators
        self.templates = templates
        self.wrappers = wrappers

    def _cot(self, text: str, cot_p: float) -> str:
        if cot_p > 0 and self.rng.random() < cot_p:
            return f"{text}\n\n{LEGIT_COT[int(self.rng.integers(0, len(LEGIT_COT) - 1))]}"
        return text

    def _chat(self, zh_p: float, coding: bool, turns: int = 0) -> tuple[list[str], list[int]]:
        r = self.rng
        if zh_p > 0 and r.random() < zh_p:
            n = turns or int(1 + r.geometric(0.45) - 1)
            return self.lib.chinese_conversation(max(1, n)), []
        if self.lib._next >= len(self.lib.english) and turns <= 1 and r.random() < 0.5:
            return [self.lib.generated_ask()], []
        prompts, answers = self.lib.conversation(turns, coding=coding)
        return prompts, [len(a) for a in answers]

    def session(
        self,
        content: int,
        frame: int,
        turns: float,
        cot_p: float,
        zh_p: float,
        repeats: int,
        campaign_share: float,
        operator: int,
    ) -> SessionText:
        r = self.rng
        if content == CAMPAIGN and r.random() < campaign_share:
            op = self.operators[operator]
            n = 1 + int(r.poisson(max(0.0, turns - 1.0)))
            prompts = [op.prompt() for _ in range(n)]
            if self.wrappers[operator]:
                prompts = [op.wrapper_opening(), *prompts]
            return SessionText(prompts, [], True)
        if content in (CHAT, CODING, CAMPAIGN):
            prompts, answers = self._chat(zh_p, content == CODING)
            if prompts:
                prompts[0] = self._cot(prompts[0], cot_p)
            return SessionText(prompts, answers, False)
        if content == ROUTER:
            prompts, answers = self._chat(zh_p, r.random() < 0.3)
            return SessionText(prompts, answers, False)
        if content == AGENT:
            n = 1 + int(r.poisson(max(0.0, turns - 1.0)))
            return SessionText(self.lib.agent_session(n), [], False)
        if content == APP:
            template = self.templates[frame]
            n = 1 + int(r.poisson(max(0.0, turns - 1.0)))
            user_text, answers = self._chat(zh_p, "snippet" in template, n)
            prompts = [template.format(q=user_text[0]), *user_text[1:]]
            return SessionText(prompts, answers, False)
        if content == EVAL:
            item = self.lib.eval_item(frame)
            return SessionText([item] * max(1, repeats), [], False, retries=True)
        if content == OSS:
            return SessionText([self._cot(self.lib.oss_item(frame), cot_p)], [], False)
        if content == VENDOR:
            return SessionText([vendor_item(self.lib, frame)], [], False)
        raise ValueError(f"unknown content kind {content}")
