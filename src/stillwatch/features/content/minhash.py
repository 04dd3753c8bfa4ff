"""MinHash signatures of accounts' prompts, and LSH candidate pairs of similar accounts.

Each account is the set of word 3-gram shingles of the skeletons of a bounded sample of its
prompts (see :mod:`.sampling`; each CJK character is a word) that recur in at least
``min_repeats`` of those prompts: the account's own repeated phrasing, its frames, without the
one-off slot content that would swamp them — and that at most ``common_share`` of the
accounts repeat (phrases the language itself repeats, "can you help me", are dropped). An account with fewer than ``min_shingles`` such
shingles (little repetition: most people) gets no signature. Its MinHash signature (``rensa``)
estimates the Jaccard similarity of two accounts' shingle sets; banded LSH proposes candidate
pairs whose signatures agree on a whole band, so similar accounts are found without comparing
all pairs. A bucket holding more than ``max_bucket`` accounts (a hydra's thousands of
accounts, or boilerplate everyone sends) is linked as a chain in account-id order instead of
all its pairs: the group stays connected and the pair count stays linear.

Catches: accounts sending the same templates even when reworded in parts (paraphrases keep
many 3-grams) and when slot content differs (slots are masked first). Known false positives:
accounts of one legitimate app or evaluation harness (same templates), and accounts that only
send a few very short prompts (small sets, noisy estimates).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from rensa import RMinHash

from stillwatch.engine.store import query_arrow, scratch_connection
from stillwatch.features.codes import bucket_pairs, distinct
from stillwatch.features.content.frames import COMMON_SHARE, skeleton_table
from stillwatch.features.content.parallel import CHUNK_ROWS
from stillwatch.features.content.sampling import PER_ACCOUNT, sample_select
from stillwatch.features.content.shingles import shingles

NUM_PERM = 128
BANDS = 32
MAX_BUCKET = 50
# pairs whose signatures are compared at once (two rows of NUM_PERM values each)
SIMILARITY_CHUNK = 100_000
SEED = 20260422
MIN_REPEATS = 2
MIN_SHINGLES = 5
# Prompts whose shingles are counted at once (whole accounts; their skeletons and shingles are
# outside DuckDB's memory limit, hence a small bound).
BATCH_PROMPTS = 50_000
# Multiplies an account's number in the one key of (account, shingle), and a band's values.
_ACCOUNT_KEY = np.uint64(0x9E3779B97F4A7C15)
_BAND_MIX = np.uint64(0xC2B2AE3D27D4EB4F)


@dataclass(frozen=True)
class AccountSignatures:
    """``accounts[i]`` has signature ``signatures[i]`` (uint32, ``num_perm`` wide) built from
    ``shingles[i]`` distinct shingles; ``pairs`` holds LSH candidate pairs ``account_a``,
    ``account_b`` (a < b), their positions ``a`` and ``b`` in ``accounts``, and
    ``similarity`` (estimated Jaccard)."""

    accounts: list[str]
    signatures: np.ndarray
    shingles: np.ndarray
    pairs: pa.Table


def account_signatures(
    account_ids: Sequence[str],
    texts: Sequence[str | None],
    event_ids: Sequence[str] | None = None,
    *,
    per_account: int = PER_ACCOUNT,
    num_perm: int = NUM_PERM,
    bands: int = BANDS,
    max_bucket: int = MAX_BUCKET,
    min_similarity: float = 0.0,
    min_repeats: int = MIN_REPEATS,
    min_shingles: int = MIN_SHINGLES,
    common_share: float = COMMON_SHARE,
    con: Any = None,
) -> AccountSignatures:
    """Signatures over at most ``per_account`` prompts per account (by hash of ``event_ids``;
    row numbers stand in when none are given) and LSH candidate pairs with estimated
    similarity ≥ ``min_similarity``."""
    n = len(account_ids)
    if len(texts) != n or (event_ids is not None and len(event_ids) != n):
        raise ValueError("account_signatures: account_ids, texts and event_ids must be aligned")
    if num_perm < 1 or bands < 1 or num_perm % bands:
        raise ValueError(
            f"account_signatures: num_perm ({num_perm}) must be a positive multiple of bands ({bands})"
        )
    ids = list(event_ids) if event_ids is not None else [str(i) for i in range(n)]
    prompts = pa.table(
        {
            "event_id": pa.array(ids, pa.string()),
            "account_id": pa.array(list(account_ids), pa.string()),
            "prompt": pa.array(list(texts), pa.string()),
        }
    )
    own = con is None
    db = scratch_connection() if own else con
    try:
        db.register("_sw_mh", prompts)
        return signatures_sql(
            db,
            "_sw_mh",
            per_account=per_account,
            num_perm=num_perm,
            bands=bands,
            max_bucket=max_bucket,
            min_similarity=min_similarity,
            min_repeats=min_repeats,
            min_shingles=min_shingles,
            common_share=common_share,
        )
    finally:
        db.unregister("_sw_mh")
        if own:
            db.close()


def signatures_sql(
    con: Any, source: str, *, per_account: int = PER_ACCOUNT, **options: Any
) -> AccountSignatures:
    """As :func:`account_signatures`, over ``source`` (columns ``event_id``, ``account_id``,
    ``prompt``) on an open DuckDB connection; ``options`` as :func:`signatures_from_skeletons`
    takes them."""
    sample = sample_select(
        f"(SELECT event_id, account_id, prompt FROM {source} WHERE prompt IS NOT NULL AND prompt <> '')",
        per_account,
    )
    table = skeleton_table(con, f"({sample})", "_sw_mh_skeletons")
    try:
        return signatures_from_skeletons(con, table, **options)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {table}")


def signatures_from_skeletons(
    con: Any,
    table: str,
    *,
    num_perm: int = NUM_PERM,
    bands: int = BANDS,
    max_bucket: int = MAX_BUCKET,
    min_similarity: float = 0.0,
    min_repeats: int = MIN_REPEATS,
    min_shingles: int = MIN_SHINGLES,
    common_share: float = COMMON_SHARE,
) -> AccountSignatures:
    """As :func:`account_signatures`, over a :func:`.frames.skeleton_table` already sampled
    (columns ``account_id``, ``rid``, a key unique to each row, and ``skeleton``) on the
    store's connection when a scan passes it."""
    # Accounts are numbered; a batch of whole accounts at a time (about ``BATCH_PROMPTS``
    # prompts) is read from DuckDB, its shingles hashed and each account's repeated ones found
    # with NumPy on as many threads as DuckDB uses (:func:`repeated_shingles`), and only those
    # go back: a large store's tens of millions of prompts never need to fit in memory.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _sw_mh_ids AS SELECT account_id, row_number() OVER "
        f"(ORDER BY account_id) - 1 AS acc FROM (SELECT account_id FROM {table} GROUP BY ALL)"
    )
    try:
        n_accounts, n_prompts = con.execute(
            f"SELECT (SELECT count(*) FROM _sw_mh_ids), (SELECT count(*) FROM {table})"
        ).fetchall()[0]
        con.execute("CREATE OR REPLACE TEMP TABLE _sw_mh_per (acc BIGINT, s UBIGINT)")
        # each prompt's account number, joined once (a join per batch built the hash table
        # of every account id again: 10 of a large store's 57 s)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _sw_mh_rows AS SELECT k.rid, i.acc FROM {table} k "
            "JOIN _sw_mh_ids i USING (account_id)"
        )
        batches = _account_batches(con, table)
        if batches is None:  # accounts are not runs of rid: a partition of them at a time
            parts = max(1, -(-int(n_prompts) // BATCH_PROMPTS))
            wheres = [f"i.acc % {parts} = {part}" for part in range(parts)]
        else:  # the range on both sides, so the join's hash table holds the batch's rows only
            wheres = [f"k.rid BETWEEN {lo} AND {hi} AND i.rid BETWEEN {lo} AND {hi}"
                      for lo, hi in batches]  # fmt: skip
        threads = max(1, int(con.execute("SELECT current_setting('threads')").fetchall()[0][0]))
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for where in wheres:
                batch = con.sql(
                    f"SELECT i.acc, k.skeleton FROM {table} k JOIN _sw_mh_rows i USING (rid) "
                    f"WHERE {where} ORDER BY i.acc, k.rid"
                ).to_arrow_table()
                skeletons = batch.column("skeleton").combine_chunks()
                acc = batch.column("acc").to_numpy()
                bounds = _whole_accounts(acc, CHUNK_ROWS)
                found = list(pool.map(
                    repeated_shingles,
                    [skeletons[lo:hi] for lo, hi in itertools.pairwise(bounds)],
                    [acc[lo:hi] for lo, hi in itertools.pairwise(bounds)],
                    itertools.repeat(int(min_repeats)),
                ))  # fmt: skip
                rows = pa.table(
                    {"acc": np.concatenate([f[0] for f in found] or [np.zeros(0, np.int64)]),
                     "s": np.concatenate([f[1] for f in found] or [np.zeros(0, np.uint64)])}
                )  # fmt: skip
                query_arrow(
                    con, rows, "_sw_mh_batch", "INSERT INTO _sw_mh_per SELECT * FROM _sw_mh_batch"
                )
        # phrasing more than common_share of the accounts repeat is the language's
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _sw_mh_kept AS
            WITH df AS (SELECT s, count(*) AS accounts FROM _sw_mh_per GROUP BY s)
            SELECT p.acc, p.s FROM _sw_mh_per p JOIN df USING (s)
            WHERE df.accounts <= greatest(2, CAST({float(common_share)!r} AS DOUBLE) * {int(n_accounts)})
            """
        )
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _sw_mh_accounts AS
            SELECT acc, row_number() OVER (ORDER BY acc) - 1 AS idx FROM (
                SELECT acc FROM _sw_mh_kept GROUP BY ALL HAVING count(*) >= {int(min_shingles)}
            )
            """
        )
        accounts = [
            str(r[0])
            for r in con.execute(
                "SELECT i.account_id FROM _sw_mh_accounts a JOIN _sw_mh_ids i USING (acc) "
                "ORDER BY a.idx"
            ).fetchall()
        ]
        flat_rel = con.sql(
            "SELECT a.idx, k.s FROM _sw_mh_kept k JOIN _sw_mh_accounts a USING (acc) ORDER BY a.idx"
        ).fetchnumpy()
    finally:
        for t in ("_sw_mh_ids", "_sw_mh_rows", "_sw_mh_per", "_sw_mh_kept", "_sw_mh_accounts"):
            con.execute(f"DROP TABLE IF EXISTS {t}")
    idx = np.asarray(flat_rel["idx"], dtype=np.int64)
    flat = np.asarray(flat_rel["s"], dtype=np.uint64)
    offsets = np.zeros(len(accounts) + 1, dtype=np.uint64)
    np.cumsum(np.bincount(idx, minlength=len(accounts)), out=offsets[1:])
    if accounts:
        matrix = RMinHash.digest_matrix_from_flat_token_hashes(
            flat, offsets, num_perm=num_perm, seed=SEED
        )
        signatures = np.asarray(matrix.to_rows(), dtype=np.uint32).reshape(len(accounts), num_perm)
    else:
        signatures = np.zeros((0, num_perm), dtype=np.uint32)
    pairs = lsh_pairs(
        accounts, signatures, bands=bands, max_bucket=max_bucket, min_similarity=min_similarity
    )
    return AccountSignatures(accounts, signatures, np.diff(offsets).astype(np.int64), pairs)


def repeated_shingles(
    skeletons: pa.Array, acc: np.ndarray, min_repeats: int = MIN_REPEATS
) -> tuple[np.ndarray, np.ndarray]:
    """Each account's own repeated phrasing among ``skeletons`` (of accounts ``acc``, numbers,
    each account's prompts all here): the (account, shingle) pairs whose shingle is in at
    least ``min_repeats`` of the account's prompts (a shingle counts once per prompt). Pairs
    are sorted by one 64-bit key of account and shingle (two pairs sharing a key among the
    ~150,000 shingles of a chunk: about one chance in 10^9)."""
    who, s = shingles(skeletons)
    key = s + acc[who].astype(np.uint64) * _ACCOUNT_KEY
    # by key (then prompt, to count each key's distinct prompts)
    order = np.lexsort((who, key)) if min_repeats > 2 else np.argsort(key)
    k, w = key[order], who[order]
    change = k[1:] != k[:-1]
    new_key = np.r_[True, change]
    if min_repeats <= 1:
        pos = np.flatnonzero(new_key)
    elif min_repeats == 2:
        # in two prompts when two neighbours of one key hold different prompts; a key's first
        # such place stands for it
        two = np.flatnonzero(~change & (w[1:] != w[:-1])) + 1
        pos = two[np.r_[True, k[two[1:]] != k[two[:-1]]]] if len(two) else two
    else:
        starts = np.flatnonzero(new_key | np.r_[True, w[1:] != w[:-1]])  # distinct (key, prompt)
        firsts = np.flatnonzero(np.r_[True, k[starts[1:]] != k[starts[:-1]]])
        prompts = np.diff(np.r_[firsts, len(starts)])
        pos = starts[firsts[prompts >= min_repeats]]
    at = order[pos]
    return acc[who[at]].astype(np.int64), s[at]


def _whole_accounts(acc: np.ndarray, rows: int) -> list[int]:
    """Bounds of runs of about ``rows`` rows of sorted ``acc`` that split no account."""
    bounds = [0]
    while bounds[-1] < len(acc):
        end = bounds[-1] + rows
        if end >= len(acc):
            bounds.append(len(acc))
            continue
        cut = int(np.searchsorted(acc, acc[end], side="left"))
        bounds.append(cut if cut > bounds[-1] else int(np.searchsorted(acc, acc[end], "right")))
    return bounds


def _account_batches(con: Any, table: str) -> list[tuple[int, int]] | None:
    """Ranges of ``rid`` holding whole accounts, about ``BATCH_PROMPTS`` prompts each, when
    each account's prompts are one run of ``rid`` (the scan's sample is numbered by account);
    None otherwise."""
    rows = con.execute(
        f"""
        WITH a AS (
            SELECT min(rid) AS lo, max(rid) AS hi, count(*) AS n FROM {table} GROUP BY account_id
        ),
        o AS (
            SELECT lo, hi, lag(hi) OVER (ORDER BY lo) AS prev,
                   sum(n) OVER (ORDER BY lo ROWS UNBOUNDED PRECEDING) - n AS before
            FROM a
        )
        SELECT min(lo), max(hi), bool_and(prev IS NULL OR lo > prev)
        FROM o GROUP BY before // {int(BATCH_PROMPTS)} ORDER BY 1
        """
    ).fetchall()
    if not all(r[2] for r in rows):
        return None
    return [(int(r[0]), int(r[1])) for r in rows]


def lsh_pairs(
    accounts: Sequence[str],
    signatures: np.ndarray,
    *,
    bands: int = BANDS,
    max_bucket: int = MAX_BUCKET,
    min_similarity: float = 0.0,
) -> pa.Table:
    """Candidate pairs: accounts whose signatures agree on all rows of at least one band."""
    n, width = signatures.shape
    rows = width // bands
    # pairs as codes ``x * n + y`` (x < y) in arrays (``codes.bucket_pairs``); a bucket over
    # max_bucket gives a chain of neighbours
    found: list[np.ndarray] = []
    for b in range(bands):
        # a band's values as one 64-bit key: two different bands sharing one only add a
        # candidate, which its similarity then judges (a sort on 64-bit keys is a radix sort;
        # on the band's bytes, a comparison sort several times slower)
        band = signatures[:, b * rows : (b + 1) * rows].astype(np.uint64)
        keys = band[:, 0].copy()
        for k in range(1, rows):
            keys = keys * _BAND_MIX + band[:, k]
        found.append(bucket_pairs(keys, max_bucket, chain=True))
    codes = distinct(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)
    pa_idx = np.stack([codes // max(n, 1), codes % max(n, 1)], axis=1)
    sim = np.empty(len(pa_idx))
    for lo in range(0, len(pa_idx), SIMILARITY_CHUNK):
        chunk = pa_idx[lo : lo + SIMILARITY_CHUNK]
        sim[lo : lo + len(chunk)] = (signatures[chunk[:, 0]] == signatures[chunk[:, 1]]).mean(
            axis=1
        )
    keep = sim >= min_similarity
    pa_idx, sim = pa_idx[keep], sim[keep]
    names = np.asarray(accounts, dtype=object)
    return pa.table(
        {
            "account_a": pa.array(names[pa_idx[:, 0]].tolist() if len(pa_idx) else [], pa.string()),
            "account_b": pa.array(names[pa_idx[:, 1]].tolist() if len(pa_idx) else [], pa.string()),
            "similarity": pa.array(sim, pa.float64()),
            "a": pa.array(pa_idx[:, 0], pa.int64()),
            "b": pa.array(pa_idx[:, 1], pa.int64()),
        }
    )
