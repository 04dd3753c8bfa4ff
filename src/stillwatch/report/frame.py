"""A prompt split into its template frame and its slots, for showing an analyst which part of
a campaign's prompts is the operator's fixed wording.

The slots are what ``features.content.skeleton`` masks (numbers, identifiers, quoted strings,
code, paths, URLs, e-mail addresses, names inside a sentence, long pasted lines), found with
the same rules on the original text, so the highlighted frame is exactly the wording that
skeletons (and the frame miner) compare across accounts. Known limit, as for skeletons: slots
of plain words ("write a poem about {topic}") stay in the frame.

Without ``show_text`` only the prompt's shape leaves :func:`prompt_view`: its length, its
slots by kind, and the share of characters in the frame; never a character of the text.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from stillwatch.features.content.skeleton import LONG_LINE_CHARS, RULES

# Rules that mask a slot (the ones replacing with a placeholder), compiled once; the rule that
# drops unpaired quote marks removes punctuation, not a slot.
_SLOT_RULES = tuple(
    (re.compile(pattern), replacement.replace("\\1", ""))
    for pattern, replacement, _guard in RULES
    if "<" in replacement
)
_FILL = "\x00"


def slot_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of every slot in ``text``, in order, not overlapping."""
    spans: list[tuple[int, int, str]] = []
    pos = 0
    for line in text.split("\n"):
        if len(line) >= LONG_LINE_CHARS:
            spans.append((pos, pos + len(line), "<long>"))
        pos += len(line) + 1
    work = list(text)
    for s, e, _ in spans:
        work[s:e] = _FILL * (e - s)
    for pattern, kind in _SLOT_RULES:
        current = "".join(work)
        for m in pattern.finditer(current):
            start = m.end(1) if pattern.groups and m.group(1) is not None else m.start()
            end = m.end()
            if end <= start or _FILL in current[start:end]:
                continue
            spans.append((start, end, kind))
            work[start:end] = _FILL * (end - start)
    return sorted(spans)


def segments(text: str) -> list[dict[str, Any]]:
    """The text as alternating frame and slot pieces: ``{"text", "slot", "kind"}``."""
    out: list[dict[str, Any]] = []
    pos = 0
    for start, end, kind in slot_spans(text):
        if start > pos:
            out.append({"text": text[pos:start], "slot": False, "kind": None})
        out.append({"text": text[start:end], "slot": True, "kind": kind})
        pos = end
    if pos < len(text):
        out.append({"text": text[pos:], "slot": False, "kind": None})
    return out


def prompt_view(text: str, show_text: bool) -> dict[str, Any]:
    """What a report shows of one prompt: its shape always, its pieces only when asked."""
    spans = slot_spans(text)
    slot_chars = sum(e - s for s, e, _ in spans)
    view: dict[str, Any] = {
        "chars": len(text),
        "slots": dict(Counter(kind for _, _, kind in spans)),
        "frame_share": round(1 - slot_chars / len(text), 3) if text else 0.0,
        "segments": segments(text) if show_text else None,
    }
    return view
