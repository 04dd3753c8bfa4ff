"""Content nearest neighbours: TF-IDF over each account's prompts, a cosine k-nearest-neighbour
graph kept above a similarity threshold, connected components as campaigns.

Each account's document is a sample of its prompts (the prompt's SHA-256 stands in where the
text is not kept, so exact repeats still match). Word unigrams and bigrams, sublinear term
frequency, terms in at least two accounts and at most half of them.

Catches: campaigns sweeping one template or task space from many accounts. Misses:
paraphrased prompts, frames wrapped around varied slot content (the frame's few words drown
in the slot's). Known false positives: evaluation harnesses sending the same public
benchmark problems, apps repeating one template for many end users. Score: the account's
highest cosine similarity to any other account.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.neighbors import NearestNeighbors

from stillwatch.bench.baselines.account_groups import (
    accounts_seen,
    linked_groups,
    result_from_groups,
)
from stillwatch.bench.dataset import Dataset
from stillwatch.bench.method import MethodResult, check_number


class ContentNeighbours:
    """TF-IDF cosine k-NN graph over accounts' prompts, components above a threshold."""

    name = "content-knn"
    version = "1"

    def __init__(
        self,
        neighbours: int = 10,
        min_similarity: float = 0.8,
        prompts_per_account: int = 50,
        min_cluster_accounts: int = 3,
        max_document_share: float = 0.5,
    ) -> None:
        self.neighbours = neighbours
        self.min_similarity = min_similarity
        self.prompts_per_account = prompts_per_account
        self.min_cluster_accounts = min_cluster_accounts
        self.max_document_share = max_document_share
        check_number("neighbours", neighbours, low=1, high=1000, integer=True)
        check_number("min_similarity", min_similarity, low=0, high=1, low_open=True)
        check_number("prompts_per_account", prompts_per_account, low=1, high=1e6, integer=True)
        check_number("min_cluster_accounts", min_cluster_accounts, low=2, high=1e9, integer=True)
        check_number("max_document_share", max_document_share, low=0, high=1, low_open=True)

    def params(self) -> dict[str, Any]:
        return {
            "neighbours": self.neighbours,
            "min_similarity": self.min_similarity,
            "prompts_per_account": self.prompts_per_account,
            "min_cluster_accounts": self.min_cluster_accounts,
            "max_document_share": self.max_document_share,
        }

    def _documents(self, dataset: Dataset, account_ids: np.ndarray) -> list[str]:
        con = dataset.con
        seen = pa.table({"account_id": account_ids.astype(str), "row": np.arange(len(account_ids))})
        con.register("_seen", seen)
        try:
            docs = con.sql(
                """
                WITH sample AS (
                    SELECT account_id, coalesce(prompt, 'sha256:' || prompt_sha256) AS text,
                           row_number() OVER (PARTITION BY account_id ORDER BY hash(event_id))
                               AS n
                    FROM exchanges
                    WHERE prompt IS NOT NULL OR prompt_sha256 IS NOT NULL
                )
                SELECT s.row, string_agg(x.text, ' \n ' ORDER BY x.n) AS document
                FROM sample x JOIN _seen s USING (account_id)
                WHERE x.n <= ?
                GROUP BY s.row
                """,
                params=[self.prompts_per_account],
            ).to_arrow_table()
        finally:
            con.unregister("_seen")
        documents = [""] * len(account_ids)
        for row, text in zip(
            docs.column("row").to_pylist(), docs.column("document").to_pylist(), strict=True
        ):
            documents[row] = text
        return documents

    def similarity_graph(self, documents: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each document's best similarity to another, and the k-NN edges above threshold."""
        n = len(documents)
        best = np.zeros(n)
        empty = np.zeros(0, dtype=np.int64)
        has_text = np.flatnonzero([bool(d) for d in documents])
        if len(has_text) < 2:
            return best, empty, empty
        vectorizer = TfidfVectorizer(
            ngram_range=(1, 2),
            min_df=2,
            max_df=self.max_document_share if len(has_text) >= 4 else 1.0,
            sublinear_tf=True,
            token_pattern=r"(?u)\b\w+\b",
            dtype=np.float32,
        )
        try:
            tfidf = vectorizer.fit_transform([documents[i] for i in has_text])
        except ValueError:  # no term left after min_df / max_df: nothing shared at all
            return best, empty, empty
        k = min(self.neighbours + 1, len(has_text))
        index = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(tfidf)
        distance, neighbour = index.kneighbors(tfidf)
        similarity = 1.0 - distance
        source = np.repeat(np.arange(len(has_text)), k)
        target = neighbour.ravel()
        similarity = similarity.ravel()
        # Zero vectors (only terms everyone uses) have no direction: no similarity.
        norms = np.sqrt(np.asarray(tfidf.multiply(tfidf).sum(axis=1)).ravel())
        not_self = (source != target) & (norms[source] > 0) & (norms[target] > 0)
        source, target, similarity = source[not_self], target[not_self], similarity[not_self]
        np.maximum.at(best, has_text[source], np.clip(similarity, 0.0, 1.0))
        edge = similarity >= self.min_similarity
        return best, has_text[source[edge]], has_text[target[edge]]

    def run(self, dataset: Dataset) -> MethodResult:
        account_ids = accounts_seen(dataset)
        documents = self._documents(dataset, account_ids)
        best, left, right = self.similarity_graph(documents)
        groups = linked_groups(len(account_ids), left, right, self.min_cluster_accounts)
        return result_from_groups(dataset, account_ids, best, groups, self.name)
