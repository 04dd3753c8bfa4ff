"""IsolationForest over per-account features (Liu, Ting, Zhou; ICDM 2008).

100 trees on sub-samples of 256 accounts, as in the paper; the account score is the paper's
anomaly score s = 2^(-E[h(x)] / c(256)), in (0, 1]. Accounts scoring at or above the
threshold are flagged; an isolation forest has no notion of which anomalies belong together,
so all flagged accounts form one reported campaign.

Catches: accounts whose behaviour or registration is rare on its own (24/7 duty cycles,
many accounts on one card, brand-new accounts with heavy traffic). Misses: campaigns large
enough to be a mode of the data rather than outliers, and low-and-slow accounts that look
typical one by one. Known false positives: power users, resellers, evaluation harnesses,
anything unusual but legitimate.

Threshold 0.65 was chosen by the sweep (``stillwatch.bench.sweep``, development seeds 1–2,
docs/baselines.md): the score, hence PR-AUC, does not depend on it, and 0.65 is the lowest
threshold whose false positives stay within 100 per 10,000 legitimate accounts on every run
(0.6 flagged up to 220).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble import IsolationForest

from stillwatch.bench.baselines.account_features import account_features
from stillwatch.bench.baselines.account_groups import accounts_seen, result_from_groups
from stillwatch.bench.dataset import Dataset
from stillwatch.bench.method import MethodResult, check_number


class IsolationForestBaseline:
    """Anomaly score of each account's feature vector; flagged above a threshold."""

    name = "isolation-forest"
    version = "2"

    def __init__(
        self,
        trees: int = 100,
        sample_accounts: int = 256,
        threshold: float = 0.65,
        seed: int = 0,
    ) -> None:
        self.trees = trees
        self.sample_accounts = sample_accounts
        self.threshold = threshold
        self.seed = seed
        check_number("trees", trees, low=1, high=100_000, integer=True)
        check_number("sample_accounts", sample_accounts, low=2, high=1e9, integer=True)
        check_number("threshold", threshold, low=0, high=1)
        check_number("seed", seed, low=0, high=2**32 - 1, integer=True)

    def params(self) -> dict[str, Any]:
        return {
            "trees": self.trees,
            "sample_accounts": self.sample_accounts,
            "threshold": self.threshold,
            "seed": self.seed,
        }

    def scores(self, features: np.ndarray) -> np.ndarray:
        """The paper's anomaly score of each row, in (0, 1]."""
        if len(features) < 2:
            return np.zeros(len(features))
        forest = IsolationForest(
            n_estimators=self.trees,
            max_samples=min(self.sample_accounts, len(features)),
            random_state=self.seed,
        ).fit(features)
        scores: np.ndarray = -forest.score_samples(features)
        return scores

    def run(self, dataset: Dataset) -> MethodResult:
        account_ids = accounts_seen(dataset)
        features, _ = account_features(dataset, account_ids)
        scores = self.scores(features)
        flagged = np.flatnonzero(scores >= self.threshold)
        groups = [flagged] if len(flagged) else []
        return result_from_groups(dataset, account_ids, scores, groups, self.name)
