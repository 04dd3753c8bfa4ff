"""Content nearest neighbours: TF-IDF over each account's prompts, a cosine k-nearest-neighbour
graph kept above a similarity threshold, connected components as campaigns.

Each account's document is a sample of its prompts, each cut to its first characters (the
prompt's SHA-256 stands in where the text is not kept, so exact repeats still match). Word
unigrams and bigrams, sublinear term frequency, terms in at least two accounts and at most
half of them. Neighbour candidates come from a sparse random projection of the TF-IDF
vectors (so the search scales to 10^5 accounts in bounded memory); every candidate pair's
similarity is then the exact TF-IDF cosine.

Catches: campaigns sweeping one template or task space from many accounts. Misses:
paraphrased prompts, frames wrapped around varied slot content (the frame's few words drown
in the slot's). Known false positives: evaluation harnesses sending the same public
benchmark problems, apps repeating one template for many end users. Score: the account's
highest cosine similarity to any other account.

Defaults: k = 10; similarity 0.5, at least 5 prompts per account and 10 accounts per
campaign were chosen on development seed 1 of every scenario (0.8 linked no campaign at
all; fewer prompts or smaller clusters let pairs of legitimate accounts repeating popular
prompts through).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.random_projection import SparseRandomProjection

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
        min_similarity: float = 0.5,
        prompts_per_account: int = 20,
        min_prompts: int = 5,
        prompt_chars: int = 400,
        min_cluster_accounts: int = 10,
        max_document_share: float = 0.5,
        projection_dims: int = 256,
    ) -> None:
        self.neighbours = neighbours
        self.min_similarity = min_similarity
        self.prompts_per_account = prompts_per_account
        self.min_cluster_accounts = min_cluster_accounts
        self.max_document_share = max_document_share
        self.prompt_chars = prompt_chars
        self.min_prompts = min_prompts
        self.projection_dims = projection_dims
        check_number("neighbours", neighbours, low=1, high=1000, integer=True)
        check_number("min_similarity", min_similarity, low=0, high=1, low_open=True)
        check_number("prompts_per_account", prompts_per_account, low=1, high=1e6, integer=True)
        check_number("min_cluster_accounts", min_cluster_accounts, low=2, high=1e9, integer=True)
        check_number("max_document_share", max_document_share, low=0, high=1, low_open=True)
        check_number("min_prompts", min_prompts, low=1, high=1e9, integer=True)
        check_number("prompt_chars", prompt_chars, low=1, high=1e9, integer=True)
        check_number("projection_dims", projection_dims, low=8, high=100_000, integer=True)

    def params(self) -> dict[str, Any]:
        return {
            "neighbours": self.neighbours,
            "min_similarity": self.min_similarity,
            "prompts_per_account": self.prompts_per_account,
            "min_cluster_accounts": self.min_cluster_accounts,
            "max_document_share": self.max_document_share,
            "prompt_chars": self.prompt_chars,
            "min_prompts": self.min_prompts,
            "projection_dims": self.projection_dims,
        }

    def _documents(self, dataset: Dataset, account_ids: np.ndarray) -> list[str]:
        con = dataset.con
        seen = pa.table({"account_id": account_ids.astype(str), "row": np.arange(len(account_ids))})
        con.register("_seen", seen)
        try:
            docs = con.sql(
                """
                WITH sample AS (
                    SELECT account_id,
                           coalesce(left(prompt, ?), 'sha256:' || prompt_sha256) AS text,
                           row_number() OVER (PARTITION BY account_id ORDER BY hash(event_id))
                               AS n
                    FROM exchanges
                    WHERE prompt IS NOT NULL OR prompt_sha256 IS NOT NULL
                )
                SELECT s.row, string_agg(x.text, ' \n ' ORDER BY x.n) AS document
                FROM sample x JOIN _seen s USING (account_id)
                WHERE x.n <= ?
                GROUP BY s.row
                HAVING count(*) >= ?
                """,
                params=[self.prompt_chars, self.prompts_per_account, self.min_prompts],
            ).to_arrow_table()
        finally:
            con.unregister("_seen")
        documents = [""] * len(account_ids)
        for row, text in zip(
            docs.column("row").to_pylist(), docs.column("document").to_pylist(), strict=True
        ):
            documents[row] = text
        return documents

    def _neighbours(self, tfidf: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each account's k likeliest neighbours, found in a random projection of the TF-IDF
        space (cosines preserved up to ~1/sqrt(dims) noise), in row blocks of bounded size;
        with each pair's exact TF-IDF cosine (rows are unit length, or zero without terms)."""
        n = tfidf.shape[0]
        k = min(self.neighbours, n - 1)
        if tfidf.shape[1] > self.projection_dims:
            projector = SparseRandomProjection(
                n_components=self.projection_dims, dense_output=True, random_state=0
            )
            projected = np.asarray(projector.fit_transform(tfidf), dtype=np.float32)
        else:
            projected = tfidf.toarray().astype(np.float32)
        lengths = np.linalg.norm(projected, axis=1)
        projected /= np.where(lengths > 0, lengths, 1.0)[:, np.newaxis]
        # About 64 MB of similarities (and 128 MB of partition indices) per block.
        rows = max(1, 2**24 // max(n, 1))
        sources, targets, similarities = [], [], []
        for start in range(0, n, rows):
            stop = min(start + rows, n)
            block = projected[start:stop] @ projected.T
            block[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # not oneself
            nearest = np.argpartition(block, -k, axis=1)[:, -k:].ravel()
            source = np.repeat(np.arange(start, stop), k)
            exact = tfidf[source].multiply(tfidf[nearest]).sum(axis=1)
            sources.append(source)
            targets.append(nearest)
            similarities.append(np.clip(np.asarray(exact).ravel(), 0.0, 1.0))
        return np.concatenate(sources), np.concatenate(targets), np.concatenate(similarities)

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
            tfidf = sparse.csr_matrix(vectorizer.fit_transform([documents[i] for i in has_text]))
        except ValueError:  # no term left after min_df / max_df: nothing shared at all
            return best, empty, empty
        source, target, similarity = self._neighbours(tfidf)
        np.maximum.at(best, has_text[source], similarity)
        edge = similarity >= self.min_similarity
        return best, has_text[source[edge]], has_text[target[edge]]

    def run(self, dataset: Dataset) -> MethodResult:
        account_ids = accounts_seen(dataset)
        documents = self._documents(dataset, account_ids)
        best, left, right = self.similarity_graph(documents)
        groups = linked_groups(len(account_ids), left, right, self.min_cluster_accounts)
        return result_from_groups(dataset, account_ids, best, groups, self.name)
