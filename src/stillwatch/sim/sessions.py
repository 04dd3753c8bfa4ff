"""The text of one session: the user turns an account of a given content kind sends.

Returns the prompts in order, the length in characters of each answer where the corpus has
one, and whether the session served a campaign (a hydra account also forwards resold
legitimate traffic). Legitimate sessions are worded in the account's voice (``voices``) when
it has one; the writer keeps which accounts spoke which family, for the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from stillwatch.sim.cast import (
    AGENT,
    APP,
    CAMPAIGN,
    CHAT,
    CODING,
    EVAL,
    OSS,
    RING,
    ROUTER,
    VENDOR,
)
from stillwatch.sim.prompts import PromptLibrary, vendor_item
from stillwatch.sim.tactics import OperatorPrompts, RingPrompts
from stillwatch.sim.voices import Voice

# Developers try a new key with a one-word request before anything else.
PING_P = 0.01


@dataclass
class SessionText:
    prompts: list[str]
    answers: list[int]
    campaign: bool
    retries: bool = False  # the prompts are retries of one request, not turns of a conversation


@dataclass
class SessionWriter:
    """Turns (account behaviour, session) into prompt text."""

    rng: np.random.Generator
    lib: PromptLibrary
    operators: list[OperatorPrompts]
    templates: list[str]
    wrappers: list[bool]
    voice_bits: list[int] = field(default_factory=list)
    rings: list[RingPrompts] = field(default_factory=list)
    spoken: dict[str, set[int]] = field(default_factory=dict)
    _voices: dict[int, Voice] = field(default_factory=dict)

    def _voice(self, v: int) -> Voice:
        if v not in self._voices:  # drawn on first use: the order of use is deterministic
            self._voices[v] = Voice(self.rng, self.voice_bits[v])
        return self._voices[v]

    def _chat(self, zh_p: float, coding: bool, turns: int = 0) -> tuple[list[str], list[int], bool]:
        r = self.rng
        if zh_p > 0 and r.random() < zh_p:
            n = turns or int(1 + r.geometric(0.45) - 1)
            return self.lib.chinese_conversation(max(1, n)), [], True
        if self.lib._next >= len(self.lib.english) and turns <= 1 and r.random() < 0.5:
            return [self.lib.generated_ask()], [], False
        prompts, answers = self.lib.conversation(turns, coding=coding)
        return prompts, [len(a) for a in answers], False

    def _speak(
        self, acct: int, voice: int, voice_p: float, prompts: list[str], zh: bool
    ) -> list[str]:
        if voice < 0 or self.rng.random() >= voice_p:
            return prompts
        prompts, fam = self._voice(voice).apply(self.rng, self.lib, prompts, zh)
        if fam:
            self.spoken.setdefault(fam, set()).add(acct)
        return prompts

    def session(
        self,
        acct: int,
        content: int,
        frame: int,
        turns: float,
        zh_p: float,
        repeats: int,
        campaign_share: float,
        operator: int,
        voice: int,
        voice_p: float,
    ) -> SessionText:
        r = self.rng
        if content == CAMPAIGN and r.random() < campaign_share:
            op = self.operators[operator]
            n = 1 + int(r.poisson(max(0.0, turns - 1.0)))
            prompts = [op.prompt() for _ in range(n)]
            if self.wrappers[operator]:
                prompts = [op.wrapper_opening(), *prompts]
            return SessionText(prompts, [], True)
        if content == RING:
            n = 1 + int(r.poisson(max(0.0, turns - 1.0)))
            prompts, chat = self.rings[operator].prompts(n)
            if not chat:
                return SessionText(prompts, [], False)
            prompts, answers, _ = self._chat(zh_p, False)
            return SessionText(prompts, answers, False)
        if content in (CHAT, CODING, CAMPAIGN):
            if content != CAMPAIGN and r.random() < PING_P:
                return SessionText([RingPrompts.PINGS[int(r.random() * 10)]], [], False)
            prompts, answers, zh = self._chat(zh_p, content == CODING)
            if content != CAMPAIGN:  # a hydra's resold sessions are other people's words
                prompts = self._speak(acct, voice, voice_p, prompts, zh)
            return SessionText(prompts, answers, False)
        if content == ROUTER:
            prompts, answers, _ = self._chat(zh_p, r.random() < 0.3)
            return SessionText(prompts, answers, False)
        if content == AGENT:
            n = 1 + int(r.poisson(max(0.0, turns - 1.0)))
            prompts = self._speak(acct, voice, voice_p, self.lib.agent_session(n), False)
            return SessionText(prompts, [], False)
        if content == APP:
            template = self.templates[frame]
            n = 1 + int(r.poisson(max(0.0, turns - 1.0)))
            user_text, answers, _ = self._chat(zh_p, "snippet" in template, n)
            prompts = [template.format(q=user_text[0]), *user_text[1:]]
            return SessionText(prompts, answers, False)
        if content == EVAL:
            item = self._speak(acct, voice, voice_p, [self.lib.eval_item(frame)], False)[-1]
            return SessionText([item] * max(1, repeats), [], False, retries=True)
        if content == OSS:
            return SessionText([self.lib.oss_item(frame)], [], False)
        if content == VENDOR:
            prompts = self._speak(acct, voice, voice_p, [vendor_item(self.lib, frame)], False)
            return SessionText(prompts, [], False)
        raise ValueError(f"unknown content kind {content}")
