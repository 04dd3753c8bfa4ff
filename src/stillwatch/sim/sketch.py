"""Sessions whose prompt text is not kept, built without writing the text (large scales).

Many providers keep only ``prompt_sha256``. For the rows whose text a data set does not keep,
the simulator decides what each prompt *is* (which corpus turn, which benchmark item, which
operator frame and slot) and derives a 256-bit digest from that identity, so the same prompt
gets the same digest and duplicates across accounts keep the structure the text path has.
Lengths come from the corpus turn itself or from the text path's measured distributions. The
manifest says which rows carry a real SHA-256 and which an identity digest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stillwatch.sim.cast import AGENT, APP, CAMPAIGN, CHAT, CODING, EVAL, OSS, RING, ROUTER, VENDOR
from stillwatch.sim.corpus import Corpus

# (median prompt tokens, log spread) of kinds whose text is generated, measured on the text path
_LENGTH: dict[int | str, tuple[int, float]] = {
    AGENT: (24, 0.3),
    EVAL: (80, 0.6),
    OSS: (150, 0.8),
    VENDOR: (21, 0.4),
    CAMPAIGN: (60, 0.7),
    RING: (40, 0.9),
    "zh": (30, 0.6),
    "wrapper": (10, 0.2),
}
_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


@dataclass
class Sketch:
    """Per session: turns, whether it served a campaign, whether its rows are retries.
    Per row: the prompt's identity digest (32 bytes) and its length in tokens."""

    turns: np.ndarray
    campaign: np.ndarray
    retry: np.ndarray
    digest: np.ndarray
    tokens: np.ndarray


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a well-spread 64-bit value from a 64-bit identity."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def digests(kind: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """32-byte digests of identities ``(kind, a, b)``; equal identities give equal digests."""
    with np.errstate(over="ignore"):
        base = _mix(
            kind.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
            ^ _mix(a.astype(np.uint64))
            ^ _mix(b.astype(np.uint64) + np.uint64(0x632BE59BD9B4E019))
        )
        lanes = np.stack(
            [_mix(base + np.uint64(j) * np.uint64(0xD6E8FEB86659FD93)) for j in range(4)], 1
        )
    return lanes.view(np.uint8).reshape(len(kind), 32)


class Sketcher:
    """Decides turns, identities and lengths for many sessions at once."""

    def __init__(
        self,
        rng: np.random.Generator,
        corpus: Corpus,
        wrappers: list[bool],
        template_style: list[bool],
    ) -> None:
        self.rng = rng
        convs = corpus.conversations
        self.conv_turns = np.array([len(c.turns) for c in convs], dtype=np.int64)
        self.turn_offset = np.cumsum(self.conv_turns) - self.conv_turns
        self.turn_tokens = np.array(
            [len(t.encode("utf-8")) // 4 + 1 for c in convs for t in c.turns], dtype=np.int64
        )
        self.english = np.array([i for i, c in enumerate(convs) if c.lang != "zh"], dtype=np.int64)
        self.coding = np.array([i for i, c in enumerate(convs) if c.coding], dtype=np.int64)
        self.wrappers = np.array([*wrappers, False], dtype=bool)
        self.template = np.array([*template_style, True], dtype=bool)

    def _lengths(self, key: int | str, n: int) -> np.ndarray:
        med, spread = _LENGTH[key]
        return np.maximum(1, self.rng.lognormal(np.log(med), spread, n)).astype(np.int64)

    def sessions(self, acct: np.ndarray, arrays: dict[str, np.ndarray]) -> Sketch:
        r = self.rng
        n_s = len(acct)
        content = arrays["content"][acct]
        # an operator's index where the account is a campaign's (rings index their own list)
        operator = np.where(arrays["content"][acct] == CAMPAIGN, arrays["operator"][acct], -1)
        campaign = (content == CAMPAIGN) & (r.random(n_s) < arrays["campaign_share"][acct])
        # resold traffic of a hydra is ordinary conversation
        chatty = np.isin(content, [CHAT, CODING, ROUTER, APP]) | ((content == CAMPAIGN) & ~campaign)
        zh = chatty & (r.random(n_s) < arrays["zh_p"][acct])
        corpus_chat = chatty & ~zh
        coding = corpus_chat & (content == CODING)
        conv = np.where(
            coding,
            self.coding[r.integers(0, len(self.coding), n_s)],
            self.english[r.integers(0, len(self.english), n_s)],
        )
        extra = r.poisson(np.maximum(0.0, arrays["turns"][acct] - 1.0))
        turns = np.ones(n_s, dtype=np.int64)
        turns[corpus_chat] = self.conv_turns[conv[corpus_chat]]
        app = content == APP
        turns[app & corpus_chat] = np.minimum(
            1 + extra[app & corpus_chat], self.conv_turns[conv[app & corpus_chat]]
        )
        turns[zh] = np.maximum(1, r.geometric(0.45, int(zh.sum())) - 1)
        generated = np.isin(content, [AGENT]) | campaign
        turns[generated] = 1 + extra[generated]
        wrapped = campaign & self.wrappers[operator]
        turns[wrapped] += 1
        retry = content == EVAL
        turns[retry] = np.maximum(1, arrays["repeats"][acct][retry])
        # rows
        n = int(turns.sum())
        sess = np.repeat(np.arange(n_s), turns)
        first = np.cumsum(turns) - turns
        t_idx = np.arange(n) - first[sess]
        kind = content[sess].astype(np.int64)
        ident_a = np.zeros(n, dtype=np.int64)
        ident_b = r.integers(0, 2**62, n)  # unique unless set below
        tokens = np.zeros(n, dtype=np.int64)
        row_chat = corpus_chat[sess]
        turn_pos = self.turn_offset[conv[sess]] + np.minimum(t_idx, self.conv_turns[conv[sess]] - 1)
        tokens[row_chat] = self.turn_tokens[turn_pos[row_chat]]
        kind[row_chat] = CHAT
        ident_a[row_chat] = turn_pos[row_chat]
        # popular questions: a few corpus turns are sent verbatim by many accounts
        verbatim = row_chat & (r.random(n) < 0.02)
        ident_b[verbatim] = 0
        row_zh = zh[sess]
        tokens[row_zh] = self._lengths("zh", int(row_zh.sum()))
        row_app = app[sess] & (t_idx == 0)
        tokens[row_app] += 20
        for k in (AGENT, OSS, VENDOR):
            rows = (content[sess] == k) & ~row_chat
            tokens[rows] = self._lengths(k, int(rows.sum()))
        rows = retry[sess]
        tokens[rows] = self._lengths(EVAL, int(rows.sum()))
        item = r.integers(0, 664, n_s)  # benchmark items: the same across harnesses
        ident_a[rows] = arrays["frame"][acct][sess][rows]
        ident_b[rows] = item[sess][rows]
        rows = (content == RING)[sess]
        tokens[rows] = self._lengths(RING, int(rows.sum()))
        ring = arrays["operator"][acct][sess][rows]
        ident_a[rows] = 1_000_000 + ring * 1000 + r.integers(0, 6, int(rows.sum()))
        ident_b[rows] = r.integers(0, 3000, int(rows.sum()))
        rows = campaign[sess]
        tokens[rows] = self._lengths(CAMPAIGN, int(rows.sum()))
        kind[rows] = CAMPAIGN
        op = operator[sess]
        ident_a[rows] = op[rows] * 1000 + r.integers(0, 20, int(rows.sum()))
        templated = rows & self.template[op]
        ident_b[templated] = r.integers(0, 3000, int(templated.sum()))  # frames × slot values
        opening = rows & wrapped[sess] & (t_idx == 0)
        tokens[opening] = self._lengths("wrapper", int(opening.sum()))
        ident_a[opening] = op[opening] * 1000 + 999
        ident_b[opening] = r.integers(0, 4, int(opening.sum()))
        return Sketch(turns, campaign, retry, digests(kind, ident_a, ident_b), tokens)
