"""Content detectors: the seam to ``stillwatch.features.content``.

These classes read ``exchanges.prompt`` through the scan's prompt sample (a bounded,
deterministic sample per account, kept in DuckDB: :mod:`stillwatch.detectors.prompts`) and the
content package's interface:

- ``frames.mine_frames_skeletons(con, table) -> FrameStats``: per account, the share of its
  prompts whose frame (skeleton with slot content masked) recurs across accounts beyond the
  language's own baseline, with the shared frames. Read here from ``stats.accounts``
  (``account_id``, ``frame_share``, ``top_frames``, ``max_sharing_accounts``);
- the elicitation score and the capability of each sampled prompt (``prompts.classified_table``);
- ``minhash.signatures_from_skeletons(con, table)``: LSH neighbours by repeated phrasing.

A scan skips them, saying why, when prompt text is absent (hash-only logs) or the content
package is not installed: nothing here fakes a content score.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import sparse

from stillwatch.detectors.base import (
    DetectorOutput,
    LinkCandidate,
    LinkColumns,
    ScanContext,
    check_param,
    connection,
    ramp,
    rounded,
)
from stillwatch.detectors.pairs import holder_pair_codes, ring_positions, top_k_mask
from stillwatch.detectors.prompts import (
    FRAME_HOLDERS,
    classified_table,
    sample_counts,
    sample_table,
    skeleton_table,
)
from stillwatch.features.threads import chunk_bounds, each_chunk

# The capabilities distillation campaigns harvest (THREATS.md); labels of
# ``stillwatch.features.content.capability.LABELS``.
TARGETED = ("coding", "agentic-tool-use", "long-horizon-planning", "reasoning-math",
            "data-analysis")  # fmt: skip


def content_module(name: str) -> Any:
    """The content package's module, or None when it is not installed."""
    try:
        return import_module(f"stillwatch.features.content.{name}")
    except ImportError:
        return None


class _ContentDetector:
    module = ""
    requires = ("exchanges.prompt",)

    def __init__(self, per_account: int = 200, min_prompts: int = 10) -> None:
        check_param("per_account", per_account, 1, 1e6, integer=True)
        check_param("min_prompts", min_prompts, 1, 1e6, integer=True)
        self.per_account = per_account
        self.min_prompts = min_prompts

    def unavailable(self) -> str | None:
        if content_module(self.module) is None:
            return f"content analysis not installed (stillwatch.features.content.{self.module})"
        return None


class SharedFrames(_ContentDetector):
    id = "content.shared-frames"
    version = "3"
    max_group = 200
    neighbours = 5
    top_k = 20
    family = "content-frames"
    module = "frames"
    evidence_keys = ("share", "prompts", "frames", "max_sharing_accounts")
    description = "prompts built on frames that recur across accounts beyond the language's rate"
    false_positives = "apps repeating one template for their users, evaluation harnesses"

    def run(self, ctx: ScanContext) -> DetectorOutput:
        out = DetectorOutput()
        counts = sample_counts(ctx, self.per_account)
        if not counts:
            return out
        stats = content_module(self.module).mine_frames_skeletons(
            connection(ctx),
            skeleton_table(ctx, self.per_account),
            texts=sample_table(ctx, self.per_account),
            holders=FRAME_HOLDERS,
        )
        # only the accounts with a frame share come to Python (a large store has a million)
        accounts = stats.accounts
        shares = accounts.column("frame_share").to_numpy(zero_copy_only=False).astype(float)
        held = accounts.filter(pa.array(np.nan_to_num(shares) > 0))
        rows = sorted(held.to_pylist(), key=lambda r: r["account_id"])
        scores = ramp(np.array([r["frame_share"] for r in rows], float), 0.2, 0.7).tolist()
        for row, score in zip(rows, scores, strict=True):
            a = row["account_id"]
            n = int(counts.get(a, 0))
            if n < self.min_prompts:
                continue
            share = float(row["frame_share"])
            frames = list(row["top_frames"] or [])[:3]
            out.add(a, score, {"share": round(share, 3), "prompts": n, "frames": frames,
                    "max_sharing_accounts": int(row["max_sharing_accounts"] or 0)})  # fmt: skip
        out.links = self._links(stats)
        return out

    def _links(self, stats: Any) -> list[LinkCandidate] | LinkColumns:
        """Accounts filling the same campaign frames (not common ones: those are the
        language's). Which pairs: the holders of each frame, all pairs up to ``max_group``
        holders, else each tied to ``neighbours`` others on each side in a fixed pseudo-random
        order (a large campaign's frame is still evidence). How strong: every frame the two
        share counts, as independent evidence, ``1 − Π(1 − rarity weight)``: an operator's
        accounts share dozens of its frames, a customer who happens to use one of its phrases
        shares that one. Each account keeps its ``top_k`` strongest partners."""
        inc = stats.incidence.to_pandas()
        if inc.empty:
            return []
        fr = stats.frames.to_pandas()[["frame_id", "weight", "accounts"]]
        inc = inc.merge(fr, on="frame_id")
        inc = inc[inc.weight > 0]
        if inc.empty:
            return []
        return FrameHoldings(inc).links(
            self.id, "frame", self.max_group, self.neighbours, self.top_k,
            lambda f, n, w: {"frame_id": f, "frames": n, "weight": w},
        )  # fmt: skip


# Pairs scored at once: fancy-indexing the incidence rows of every pair at once made a matrix
# of more than 2**31 entries on the large scale (and most of its 13 GB peak).
PAIR_CHUNK = 250_000


class FrameHoldings:
    """Which frames each account holds (``incidence``: rows ``account_id``, ``frame_id``,
    ``weight``), by integer code: accounts numbered in id order."""

    def __init__(self, incidence: pd.DataFrame) -> None:
        rows, accounts = pd.factorize(incidence.account_id.astype(object), sort=True)
        cols, frames = pd.factorize(incidence.frame_id.astype(object), sort=True)
        names = np.asarray([str(f) for f in frames], dtype=object)
        self._hold(rows, cols, incidence.weight.to_numpy(float), pd.Index(accounts),
                   len(frames), names.__getitem__)  # fmt: skip

    @classmethod
    def from_codes(
        cls, rows: np.ndarray, cols: np.ndarray, weight: np.ndarray, accounts: pd.Index,
        n_frames: int, name_of: Callable[[np.ndarray], np.ndarray],
    ) -> FrameHoldings:  # fmt: skip
        """Holdings already coded (by the store, for a large incidence): ``rows`` index
        ``accounts`` (in id order), ``cols`` number the frames ``0 .. n_frames - 1`` in name
        order, and ``name_of(codes)`` names the frames a link's evidence cites."""
        holdings = cls.__new__(cls)
        holdings._hold(rows, cols, weight, accounts, n_frames, name_of)
        return holdings

    def _hold(
        self, rows: np.ndarray, cols: np.ndarray, weight: np.ndarray, accounts: pd.Index,
        n_frames: int, name_of: Callable[[np.ndarray], np.ndarray],
    ) -> None:  # fmt: skip
        self.accounts = accounts
        self.rows, self.cols = rows, cols
        w = np.clip(weight, 0.0, 0.999)
        shape = (len(accounts), n_frames)
        self.held = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=shape)
        self.held.data[:] = 1.0  # an account holds a frame once
        self.log_miss = sparse.csr_matrix((np.log1p(-w), (rows, cols)), shape=shape)
        self.weighted = sparse.csr_matrix((w, (rows, cols)), shape=shape)
        self.name_of = name_of

    def pairs(self, max_group: int, neighbours: int) -> tuple[np.ndarray, np.ndarray]:
        """The holders of each frame paired (``pairs.holder_pair_codes``)."""
        ring = ring_positions(self.accounts)
        return holder_pair_codes(self.rows, self.cols, ring, max_group, neighbours)

    def weights(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per pair of account codes: ``1 − Π(1 − w)`` over the frames both hold, and how many
        they share; ``PAIR_CHUNK`` pairs at a time. The terms of the product are ``x``'s logs
        where ``y`` holds, in column order (a product drops zeros, and ``log_miss`` holds
        nothing ``held`` does not): one row product per chunk, which also counts the frames
        shared where no log is 0 (else ``held``'s rows do)."""
        weight, shared = np.zeros(len(xs)), np.zeros(len(xs))
        same = self.log_miss.nnz == self.held.nnz and bool(np.all(self.log_miss.data != 0))

        def chunk(lo: int, hi: int) -> None:
            x, y = xs[lo:hi], ys[lo:hi]
            held_y = self.held[y]
            terms = self.log_miss[x].multiply(held_y).tocsr()
            weight[lo:hi] = 1.0 - np.exp(np.asarray(terms.sum(axis=1)).ravel())
            both = terms if same else self.held[x].multiply(held_y).tocsr()
            shared[lo:hi] = np.diff(both.indptr)

        each_chunk(chunk_bounds(len(xs), PAIR_CHUNK), chunk)
        return weight, shared

    def rarest(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """Per pair, the rarest frame both hold ("" for none)."""
        code = np.full(len(xs), -1, dtype=np.int64)

        def chunk(lo: int, hi: int) -> None:
            x, y = xs[lo:hi], ys[lo:hi]
            code[lo:hi] = _rarest(self.weighted[x].multiply(self.held[y]).tocsr())

        each_chunk(chunk_bounds(len(xs), PAIR_CHUNK), chunk)
        top = np.full(len(xs), "", dtype=object)
        named = code >= 0
        if named.any():
            top[named] = self.name_of(code[named])
        return top

    def links(
        self, detector: str, link_type: str, max_group: int, neighbours: int, top_k: int,
        evidence: Callable[[np.ndarray, np.ndarray, np.ndarray], dict[str, np.ndarray]],
        min_shared: int = 1,
    ) -> LinkColumns:  # fmt: skip
        """The pairs (:meth:`pairs`) sharing ``min_shared`` frames or more, each account's
        ``top_k`` strongest (``pairs.top_k_mask``), with ``evidence(rarest frames, frames
        shared, weights)`` (columns, one value per link)."""
        xs, ys = self.pairs(max_group, neighbours)
        weight, shared = self.weights(xs, ys)
        valid = (shared >= min_shared) & np.isfinite(weight) & (weight > 0)
        xs, ys, weight, shared = xs[valid], ys[valid], weight[valid], shared[valid]
        keep = top_k_mask(xs, ys, weight, top_k)
        xs, ys, weight, shared = xs[keep], ys[keep], weight[keep], shared[keep]
        top = self.rarest(xs, ys).astype(str)
        ids = np.asarray(self.accounts, dtype=object)
        weight = rounded(weight, 4)
        return LinkColumns(detector, link_type, ids[xs], ids[ys], weight,
                           evidence(top, shared.astype(np.int64), weight))  # fmt: skip


def _rarest(rarest: sparse.csr_matrix) -> np.ndarray:
    """Per row, its first column of largest value (as ``np.argmax`` per row), for all rows at
    once; -1 for an empty row."""
    top = np.full(rarest.shape[0], -1, dtype=np.int64)
    ptr = rarest.indptr
    lengths = np.diff(ptr)
    rows = np.flatnonzero(lengths)
    if len(rows):
        data = rarest.data[: ptr[-1]]
        row_max = np.maximum.reduceat(data, ptr[rows])
        at_max = np.flatnonzero(data == np.repeat(row_max, lengths[rows]))
        first = at_max[np.searchsorted(at_max, ptr[rows])]
        top[rows] = rarest.indices[first]
    return top


class Elicitation(_ContentDetector):
    id = "content.elicitation"
    version = "2"
    family = "content-elicitation"
    module = "elicitation"
    evidence_keys = ("share", "prompts")
    description = "prompts asking for full reasoning traces or grading (CoT/grader elicitation)"
    false_positives = "evaluation harnesses and tutors that say 'think step by step'"

    def run(self, ctx: ScanContext) -> DetectorOutput:
        out = DetectorOutput()
        if not sample_counts(ctx, self.per_account):
            return out
        rows = (
            connection(ctx)
            .execute(
                f"SELECT s.account_id, count(*), sum(CASE WHEN c.elicitation >= 0.5 THEN 1 ELSE 0 END) "
                f"FROM {sample_table(ctx, self.per_account)} s "
                f"JOIN {classified_table(ctx, self.per_account)} c USING (rid) "
                "GROUP BY ALL HAVING count(*) >= ? ORDER BY s.account_id",
                [self.min_prompts],
            )
            .fetchall()
        )
        for a, k, hits in rows:
            share = float(hits) / float(k)
            out.add(str(a), float(ramp(share, 0.2, 0.7)), {"share": round(share, 3),
                                                           "prompts": int(k)})  # fmt: skip
        return out


class CapabilityFocus(_ContentDetector):
    id = "content.capability-focus"
    version = "4"
    family = "content-capability"
    module = "capability"
    evidence_keys = ("capability", "share", "prompts")
    description = "prompts narrowly targeting one capability (coding, agentic, planning, maths)"
    false_positives = "coding assistants and single-purpose apps"

    def run(self, ctx: ScanContext) -> DetectorOutput:
        out = DetectorOutput()
        if not sample_counts(ctx, self.per_account):
            return out
        # each account's most frequent capability (ties: the first in name order)
        rows = (
            connection(ctx)
            .execute(
                f"""
            WITH c AS (
                SELECT s.account_id, c.capability, count(*) AS k
                FROM {sample_table(ctx, self.per_account)} s
                JOIN {classified_table(ctx, self.per_account)} c USING (rid) GROUP BY ALL
            ),
            ranked AS (
                SELECT *, sum(k) OVER (PARTITION BY account_id) AS total, row_number() OVER
                    (PARTITION BY account_id ORDER BY k DESC, capability) AS r
                FROM c
            )
            SELECT account_id, capability, k, total FROM ranked WHERE r = 1 AND total >= ?
            ORDER BY account_id
            """,
                [self.min_prompts],
            )
            .fetchall()
        )
        for a, cap, k, total in rows:
            if cap not in TARGETED:
                continue
            share = float(k) / float(total)
            out.add(str(a), float(ramp(share, 0.6, 0.95)), {"capability": str(cap),
                    "share": round(share, 3), "prompts": int(total)})  # fmt: skip
        return out


class SimilarPhrasing(_ContentDetector):
    """Accounts whose own repeated phrasing (MinHash over skeleton 3-grams that recur in their
    prompts) is alike: LSH neighbours, checked by estimated Jaccard similarity.

    A link weighs its similarity times how much phrasing the two accounts share: the estimated
    count of shared recurring 3-grams, ``J / (1 + J) · (|A| + |B|)``, on a ramp from
    ``min_shared`` (the fewest an account needs for a signature) to ``full_shared`` (about three frames' worth of words). Two people who
    paste the same error message into a conversation repeat a handful of 3-grams, and their
    sets are equal (similarity 1) while saying almost nothing; an operator's accounts repeat
    its frames, dozens of 3-grams each.

    Catches: one operator's templates spread over many accounts even when reworded in parts.
    Known false positives: one app's or harness's accounts sending the same templates."""

    id = "content.similar-phrasing"
    version = "3"
    family = "content-frames"
    module = "minhash"
    evidence_keys = ("partners", "best_similarity", "most_shared_phrases")
    description = "accounts whose repeated phrasing is alike (MinHash/LSH neighbours)"
    false_positives = "accounts of one app or evaluation harness sending the same templates"
    min_similarity = 0.5
    partners_full = 5
    top_k = 20
    min_shared = 5.0
    full_shared = 30.0

    def run(self, ctx: ScanContext) -> DetectorOutput:
        out = DetectorOutput()
        counts = sample_counts(ctx, self.per_account)
        if not counts:
            return out
        frames = content_module("frames")
        # Phrasing repeated by more than the frames' "common" share of accounts is the
        # language's, as for frames; in a small data set a share says little, so the same
        # floor on accounts holds (frames.COMMON_MIN_ACCOUNTS).
        common = max(frames.COMMON_SHARE, frames.COMMON_MIN_ACCOUNTS / max(len(counts), 1))
        sig = content_module(self.module).signatures_from_skeletons(
            connection(ctx), skeleton_table(ctx, self.per_account),
            min_similarity=self.min_similarity, common_share=min(common, 1.0),
        )  # fmt: skip
        if not sig.pairs.num_rows:
            return out
        # the pairs by account number (accounts numbered in id order), no id looked up
        xs, ys = sig.pairs.column("a").to_numpy(), sig.pairs.column("b").to_numpy()
        sim = sig.pairs.column("similarity").to_numpy()
        size = sig.shingles.astype(float)
        shared = sim / (1 + sim) * (size[xs] + size[ys])
        amount = ramp(shared, self.min_shared, self.full_shared)
        both = pd.DataFrame({"a": np.concatenate([xs, ys]), "amount": np.tile(amount, 2),
                             "similarity": np.tile(sim, 2), "shared": np.tile(shared, 2)})  # fmt: skip
        # An account's score: its partners, each counted by how much phrasing it shares.
        per = both.groupby("a", sort=True).agg(
            amount=("amount", "sum"), partners=("amount", "size"),
            best=("similarity", "max"), most=("shared", "max"),
        )  # fmt: skip
        names = np.asarray(sig.accounts, dtype=object)
        for a, total, partners, best, most in zip(
            names[per.index], per.amount, per.partners, per.best, per.most, strict=True
        ):
            out.add(str(a), min(1.0, float(total) / self.partners_full),
                    {"partners": int(partners), "best_similarity": round(float(best), 3),
                     "most_shared_phrases": round(float(most))})  # fmt: skip
        # the links from arrays (a large scan pairs a million accounts): the pairs are distinct,
        # and accounts are numbered in id order, so ``top_k_mask`` keeps what ``top_k_links``
        # would, ties to the partner of smaller id
        weight = sim * amount
        live = weight > 0
        xs, ys, weight, sim, shared = xs[live], ys[live], weight[live], sim[live], shared[live]
        keep = top_k_mask(xs, ys, weight, self.top_k)
        order = np.lexsort((ys[keep], xs[keep]))
        at = np.flatnonzero(keep)[order]
        out.links = LinkColumns(
            self.id, "minhash", names[xs[at]], names[ys[at]], rounded(weight[at], 4),
            {"similarity": rounded(sim[at], 3), "shared_phrases": np.round(shared[at]).astype(np.int64)},
        )  # fmt: skip
        return out
