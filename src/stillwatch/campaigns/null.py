"""The operating point without labels: a campaign-score threshold from a target false-positive
rate and a permutation null model.

**Null model** ("attributes permuted across accounts"): keep the graph and its clusters as
they are, and hand each clustered account the account-level facts (how non-organic it is, how
much it harvests) of an account drawn at random, without replacement, from every account the
scan scored. Under the null hypothesis that those facts are unrelated to who is tied to whom,
a cluster's score is what such draws give. ``rounds`` permutations give a null distribution of
(score, cluster size).

**Threshold**: the lowest score ``t`` such that, under the null, the expected number of
accounts in clusters scoring ≥ ``t`` is at most ``target_fpr`` times the accounts scored —
the false-positive rate per account the setting asks for (1 per 10,000 is 0.0001). A floor
(``min_score``) holds where the null never comes close: the null protects against chance
alignments, not against a legitimate organization whose accounts really are alike.

Assumptions, stated so they can be checked: (1) campaign accounts are a small share of all
accounts (they are part of the population the null draws from, which makes the threshold
conservative); (2) account facts are exchangeable across accounts under the null — a
legitimate organization whose members share facts is not covered by it, which is what the
cluster judgement (``judge.py``) and the floor are for; (3) ``rounds`` large enough that the
quantile is resolved: with N accounts the smallest rate resolved is about 1 / (rounds · N).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from stillwatch.campaigns.judge import baseline_shares, cluster_scores


@dataclass(frozen=True)
class NullThreshold:
    threshold: float
    null_threshold: float
    rounds: int
    target_fpr: float
    min_score: float
    null_max: float

    def as_dict(self) -> dict[str, float | int]:
        return {
            "threshold": round(self.threshold, 4),
            "null_threshold": round(self.null_threshold, 4),
            "null_max": round(self.null_max, 4),
            "rounds": self.rounds,
            "target_fpr": self.target_fpr,
            "min_score": self.min_score,
        }


def null_threshold(
    labels: np.ndarray,
    coordination: np.ndarray,
    population: pd.DataFrame,
    n_clusters: int,
    target_fpr: float,
    min_score: float,
    rounds: int = 200,
    seed: int = 20260422,
    max_rows: int = 2_000_000,
    account_measured: bool = True,
) -> NullThreshold:
    """The threshold for the clusters ``labels`` (≥ 0 clustered; one entry per graph node),
    their members' facts drawn from ``population`` (one row per scored account, the columns
    :func:`cluster_scores` reads). All rounds are scored in one pass, as ``rounds · k``
    pseudo-clusters; ``rounds`` shrinks so that at most ``max_rows`` member rows are drawn."""
    inside = np.flatnonzero(labels >= 0)
    n_pop = len(population)
    if not len(inside) or n_pop < len(inside) or n_clusters == 0:
        return NullThreshold(min_score, 0.0, 0, target_fpr, min_score, 0.0)
    rounds = max(1, min(rounds, max_rows // len(inside)))
    rng = np.random.default_rng(seed)
    draws = np.concatenate([rng.choice(n_pop, size=len(inside), replace=False)
                            for _ in range(rounds)])  # fmt: skip
    members = population.iloc[draws].reset_index(drop=True)
    offsets = np.repeat(np.arange(rounds) * n_clusters, len(inside))
    fake_labels = np.tile(labels[inside], rounds) + offsets
    fake_coordination = np.tile(coordination[inside], rounds)
    baseline = baseline_shares(population)
    table = cluster_scores(fake_labels, members, fake_coordination, rounds * n_clusters, baseline,
                           account_measured)  # fmt: skip
    table = table[table["size"] > 0]
    s = table.score.to_numpy()
    z = table["size"].to_numpy().astype(float)
    order = np.argsort(-s, kind="stable")
    s, z = s[order], z[order]
    rate = np.cumsum(z) / (rounds * n_pop)
    over = np.flatnonzero(rate > target_fpr)
    # Clusters at or above the first score whose cumulative rate breaks the target would be
    # too many: the threshold sits just above it.
    null_t = float(s[over[0]]) + 1e-9 if len(over) else 0.0
    return NullThreshold(
        max(min_score, null_t),
        null_t,
        rounds,
        target_fpr,
        min_score,
        float(s[0]) if len(s) else 0.0,
    )
