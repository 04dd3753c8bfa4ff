"""Measures of the realism guard: could anything but combined evidence give a campaign away?

Every table the simulator writes is read (``exchanges``, ``accounts``, ``enforcements``),
each categorical column by *every* value an account holds, and prompt text as word n-grams
(n ≤ 3; Chinese by characters). An *item* is one such value or n-gram; an account holds it
when any of its rows carries it. For an item: precision = campaign holders / holders, recall =
holders among one operator's accounts / that operator's accounts (the best operator).

- ``within``: items of seed-independent vocabularies (every column but per-seed ids and
  addresses, and n-grams inside the simulator's own string literals) may not reach precision
  0.9 at recall 0.2 in one data set.
- ``across``: the items most indicative of campaigns on one seed (held by ≥ 5% of its campaign
  accounts, precision ≥ 0.5, the 300 best), applied to another seed alone and as a count
  per account, stay below precision 0.5 at recall 0.2 (recall, as within, over one
  operator's accounts). Values and n-grams are judged apart (``kinds``).

Planting (``Plant``) changes the views, not the files, so the can-it-fail tests cost nothing.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

import stillwatch.sim

GUARD_SEEDS = (1, 2)
WITHIN_PRECISION, WITHIN_RECALL = 0.9, 0.2
ACROSS_PRECISION, ACROSS_RECALL = 0.5, 0.2
ACROSS_SUPPORT, ACROSS_MIN_PRECISION, ACROSS_TOP = 0.05, 0.5, 300

# Columns whose values are drawn per seed (ids, addresses, hashes): judged across seeds only.
PER_SEED = {
    "api_key_id",
    "end_user_id",
    "conversation_id",
    "ip",
    "ip_hash",
    "prompt_sha256",
    "payment_fingerprint",
    "signup_ip",
}
# Categorical columns read per value (text columns go to n-grams; counters are not values).
EXCHANGE_VALUES = (
    "api_key_id",
    "end_user_id",
    "conversation_id",
    "turn_index",
    "ip",
    "ip_hash",
    "asn",
    "ip_country",
    "user_agent",
    "tls_fingerprint",
    "model",
    "endpoint",
    "system_prompt",
    "prompt_sha256",
    "max_tokens",
    "temperature",
    "tools_count",
    "thinking",
    "status",
)
ACCOUNT_VALUES = (
    "email_domain",
    "payment_fingerprint",
    "signup_ip",
    "country",
    "signup_path",
    "org_name",
    "verified",
)
ENFORCEMENT_VALUES = ("action", "reason", "api_key_id")
_TOKEN = re.compile(r"[a-z0-9]+|[\u4e00-\u9fff]")
# Prompts read per account, and the characters read of each: frames sit at a prompt's ends.
PROMPTS_PER_ACCOUNT, HEAD_CHARS, TAIL_CHARS = 40, 600, 300
# Token ids shared by every data set read in this process, so n-gram ids compare across seeds.
_VOCAB: dict[str, int] = {}
_WORDS: list[str] = []
_V = 1 << 20


def _token_ids(text: str) -> list[int]:
    out = []
    for tok in _TOKEN.findall(text.lower()):
        i = _VOCAB.get(tok)
        if i is None:
            i = _VOCAB[tok] = len(_WORDS)
            _WORDS.append(tok)
        out.append(i)
    assert len(_WORDS) < _V
    return out


def gram_id(tokens: list[int]) -> int:
    """The id of an n-gram (n ≤ 3) of token ids: n in the top bits, the tokens below."""
    g = 0
    for t in tokens:
        g = g * _V + t
    return (len(tokens) << 60) | g


def gram_text(g: int) -> str:
    n, g = g >> 60, g & ((1 << 60) - 1)
    toks = []
    for _ in range(n):
        toks.append(_WORDS[g % _V])
        g //= _V
    return " ".join(reversed(toks))


def _ngrams(con: duckdb.DuckDBPyConnection) -> None:
    """Table ``grams(account_id, n, h)``: the word n-grams (n = 1..3; Chinese by character)
    each account's prompts hold, read from up to 40 prompts per account (each prompt's first
    600 and last 300 characters)."""
    rows = con.execute(
        f"""SELECT account_id, prompt FROM exchanges WHERE prompt IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY hash(event_id))
              <= {PROMPTS_PER_ACCOUNT}"""
    ).fetchall()
    accounts = sorted({a for a, _ in rows})
    index = {a: i for i, a in enumerate(accounts)}
    ids: list[int] = []
    owner: list[int] = []
    for account, prompt in rows:
        if len(prompt) > HEAD_CHARS + TAIL_CHARS:
            pieces = (prompt[:HEAD_CHARS], prompt[-TAIL_CHARS:])
        else:
            pieces = (prompt,)
        for piece in pieces:
            toks = _token_ids(piece)
            ids.extend(toks)
            ids.append(-1)  # no n-gram crosses a prompt or a cut
            owner.extend([index[account]] * (len(toks) + 1))
    t = np.asarray(ids, dtype=np.int64)
    acct = np.asarray(owner, dtype=np.int64)
    parts_a, parts_g = [], []
    for n in (1, 2, 3):
        m = len(t) - n + 1
        ok = np.ones(m, dtype=bool)
        g = np.zeros(m, dtype=np.int64)
        for k in range(n):
            tk = t[k : k + m]
            ok &= tk >= 0
            g = g * _V + np.where(tk >= 0, tk, 0)
        parts_a.append(acct[:m][ok])
        parts_g.append((n << 60) | g[ok])
    con.register("_acc", pa.table({"i": np.arange(len(accounts)), "account_id": accounts}))
    con.register("_g", pa.table({"i": np.concatenate(parts_a), "h": np.concatenate(parts_g)}))
    con.execute(
        "CREATE TABLE grams AS SELECT DISTINCT a.account_id, (g.h >> 60)::INT AS n, g.h "
        "FROM _g g JOIN _acc a USING (i)"
    )
    con.unregister("_g")


@dataclass
class Plant:
    """A leak planted in the views: on ``accounts`` (ids), a column value, a prompt phrase or
    an enforcement reason."""

    accounts: list[str]
    column: str | None = None  # an exchanges or accounts column set to ``value``
    value: str | None = None
    phrase: str | None = None  # appended to every prompt of those accounts
    reason: str | None = None  # an enforcement row with this reason on each


@dataclass
class Items:
    """Per account, the items it holds, with labels: what every measure reads."""

    con: duckdb.DuckDBPyConnection
    n_campaign: int
    operators: dict[str, int] = field(default_factory=dict)


def connect(folder: Path, plant: Plant | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    for t in ("exchanges", "accounts", "enforcements", "labels_accounts"):
        con.execute(f"CREATE VIEW raw_{t} AS SELECT * FROM read_parquet('{folder}/{t}.parquet')")
    con.execute(
        "CREATE VIEW labels AS SELECT account_id, operator_id, kind = 'campaign' AS campaign "
        "FROM raw_labels_accounts"
    )
    views = {t: f"SELECT * FROM raw_{t}" for t in ("exchanges", "accounts", "enforcements")}
    if plant is not None:
        con.register("_plant", pa.table({"account_id": plant.accounts}))
        hit = "account_id IN (SELECT account_id FROM _plant)"
        if plant.column in EXCHANGE_VALUES:
            views["exchanges"] = (
                f"SELECT * REPLACE (CASE WHEN {hit} THEN '{plant.value}' "
                f"ELSE {plant.column}::VARCHAR END AS {plant.column}) FROM raw_exchanges"
            )
        if plant.column in ACCOUNT_VALUES:
            views["accounts"] = (
                f"SELECT * REPLACE (CASE WHEN {hit} THEN '{plant.value}' "
                f"ELSE {plant.column}::VARCHAR END AS {plant.column}) FROM raw_accounts"
            )
        if plant.phrase:
            views["exchanges"] = (
                f"SELECT * REPLACE (CASE WHEN {hit} AND prompt IS NOT NULL "
                f"THEN prompt || ' {plant.phrase}' ELSE prompt END AS prompt) FROM raw_exchanges"
            )
        if plant.reason:
            views["enforcements"] = (
                "SELECT * FROM raw_enforcements UNION ALL SELECT account_id, "
                "TIMESTAMPTZ '2026-04-23 00:00:00+00', 'challenge', NULL, "
                f"'{plant.reason}' FROM _plant"
            )
    for t, sql in views.items():
        con.execute(f"CREATE VIEW {t} AS {sql}")
    return con


def _values_sql(table: str, columns: tuple[str, ...]) -> str:
    parts = [
        f"SELECT account_id, '{table}.{c}' AS col, CASE WHEN length({c}::VARCHAR) > 80 "
        f"THEN 'md5:' || md5({c}::VARCHAR) ELSE {c}::VARCHAR END AS v FROM {table}"
        for c in columns
    ]
    return " UNION ALL ".join(parts)


def items(folder: Path, plant: Plant | None = None, ngrams: bool = True) -> Items:
    """Read one data set into per-account items (values and, unless not asked for, n-grams)
    with labels."""
    con = connect(folder, plant)
    sources = [
        _values_sql("exchanges", EXCHANGE_VALUES),
        _values_sql("accounts", ACCOUNT_VALUES),
        _values_sql("enforcements", ENFORCEMENT_VALUES),
        "SELECT account_id, 'enforcements.action:reason' AS col, action || ':' || reason AS v "
        "FROM enforcements",
    ]
    con.execute(
        "CREATE TABLE vals AS SELECT DISTINCT account_id, col, v FROM ("
        + " UNION ALL ".join(sources)
        + ") WHERE v IS NOT NULL"
    )
    if ngrams:
        _ngrams(con)
    else:
        con.execute("CREATE TABLE grams (account_id VARCHAR, n INT, h BIGINT)")
    n_campaign = con.execute("SELECT count(*) FROM labels WHERE campaign").fetchone()[0]
    ops = dict(
        con.execute("SELECT operator_id, count(*) FROM labels WHERE campaign GROUP BY 1").fetchall()
    )
    return Items(con, int(n_campaign), ops)


def item_stats(it: Items, min_support: float = 0.0) -> pa.Table:
    """Per item: holders, campaign holders, best per-operator recall, and its kind (column
    name, or ``ngram:n``); items held by fewer than ``min_support`` of some operator's
    accounts and of the campaign accounts are left out."""
    con = it.con
    con.execute(
        "CREATE OR REPLACE TEMP TABLE opsize AS SELECT operator_id, count(*) AS size "
        "FROM labels WHERE campaign GROUP BY 1"
    )
    sql = """
    WITH held AS (
        SELECT col AS kind, col || '=' || v AS item, account_id FROM vals
        UNION ALL
        SELECT 'ngram:' || n, 'ngram:' || h, account_id FROM grams
    ),
    per_op AS (
        SELECT kind, item, l.operator_id, count(*) AS n
        FROM held JOIN labels l USING (account_id) GROUP BY ALL
    )
    SELECT kind, item, sum(n)::DOUBLE AS holders,
           coalesce(sum(n) FILTER (WHERE operator_id IS NOT NULL), 0)::DOUBLE AS campaign,
           coalesce(max(n / size) FILTER (WHERE operator_id IS NOT NULL), 0)::DOUBLE AS recall
    FROM per_op LEFT JOIN opsize USING (operator_id)
    GROUP BY ALL
    HAVING recall >= ? OR campaign >= ?
    """
    return con.sql(sql, params=[min_support, min_support * max(1, it.n_campaign)]).to_arrow_table()


def _literal_grams(text: str) -> set[int]:
    out: set[int] = set()
    for piece in re.split(r"<\w+>|\{\w*\}", text):
        toks = _token_ids(piece)
        for n in (1, 2, 3):
            out.update(gram_id(toks[i : i + n]) for i in range(len(toks) - n + 1))
    return out


def _producible(skeleton: str, vocab: dict[str, tuple[str, ...]]) -> set[int]:
    """Every word n-gram (n ≤ 3) one grammar skeleton can produce, enumerated."""
    pieces: list[list[list[int]]] = []
    for part in re.split(r"(<\w+>|\{\w*\})", skeleton):
        if re.fullmatch(r"<\w+>", part):
            pieces.append([_token_ids(o) for o in vocab[part[1:-1]]])
        elif re.fullmatch(r"\{\w*\}", part):
            pieces.append([[-1]])  # content or a number: no fixed n-gram crosses it
        elif part:
            pieces.append([_token_ids(part)])
    out: set[int] = set()

    def extend(i: int, toks: list[int]) -> None:
        if toks and -1 not in toks:
            out.add(gram_id(toks))
        if len(toks) == 3 or i == len(pieces) or -1 in toks:
            return
        for alt in pieces[i]:
            if not alt:
                extend(i + 1, toks)
            else:
                grown = toks + alt
                for k in range(len(toks) + 1, min(len(grown), 3) + 1):
                    if -1 not in grown[:k]:
                        out.add(gram_id(grown[:k]))
                if len(grown) < 3:
                    extend(i + 1, grown)

    for i, alts in enumerate(pieces):
        for alt in alts:
            for start in range(len(alt)):
                for n in (1, 2, 3):  # every window inside the piece, then on into the next
                    window = alt[start : start + n]
                    if len(window) == n and -1 not in window:
                        out.add(gram_id(window))
                extend(i + 1, alt[start : start + 3])
    return out


def literal_ngrams(renderings: int = 3000) -> set[int]:
    """Ids of the word n-grams (n ≤ 3) of wording the simulator does not draw per seed: every
    string literal in its code (docstrings aside), less what the grammar (``phrasing``) can
    say — each operator's dialect draws its options per seed: every n-gram of every skeleton
    (enumerated) and of frames joined from several (``renderings`` sampled per family)."""
    from stillwatch.sim.phrasing import GRAMMAR, SKELETONS, TASK_FAMILIES, VOCAB

    fixed: set[int] = set()
    for path in Path(stillwatch.sim.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = {
            id(n.body[0].value)
            for n in ast.walk(tree)
            if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef)
            and n.body
            and isinstance(n.body[0], ast.Expr)
        }
        for node in ast.walk(tree):
            if id(node) in docs:
                continue  # a docstring is not wording the simulator writes
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if path.name == "phrasing.py" and "|" in node.value:
                    continue  # slot options: drawn per seed
                fixed |= _literal_grams(node.value)
    drawn: set[int] = set()
    for skeletons in SKELETONS.values():
        for skeleton in skeletons:
            drawn |= _producible(skeleton, VOCAB)
    rng = np.random.default_rng(0)
    for family in (*TASK_FAMILIES, "spam"):
        for _ in range(renderings):
            drawn |= _literal_grams(GRAMMAR.task_frame(rng, family))
    return fixed - drawn


def describe(item: str) -> str:
    """An item as a person reads it (n-grams as their words)."""
    if item.startswith("ngram:"):
        return f"ngram:{gram_text(int(item.split(':', 1)[1]))!r}"
    return item[:120]


@dataclass
class Finding:
    item: str
    kind: str
    precision: float
    recall: float


def within(it: Items, literals: set[int]) -> list[Finding]:
    """Seed-independent items with precision ≥ 0.9 at recall ≥ 0.2 in this data set."""
    stats = item_stats(it, WITHIN_RECALL).to_pylist()
    out = []
    for s in stats:
        if s["recall"] < WITHIN_RECALL:
            continue
        kind = s["kind"]
        if kind.startswith("ngram:"):
            if int(s["item"].split(":", 1)[1]) not in literals:
                continue
        elif kind.split(".", 1)[1] in PER_SEED:
            continue
        precision = s["campaign"] / s["holders"]
        if precision >= WITHIN_PRECISION:
            out.append(Finding(describe(s["item"]), kind, precision, s["recall"]))
    return out


def indicative(it: Items) -> list[dict]:
    """The items most indicative of campaigns in this data set (see the module docstring)."""
    stats = item_stats(it, ACROSS_SUPPORT).to_pylist()
    keep = [
        dict(s, precision=s["campaign"] / s["holders"])
        for s in stats
        if s["campaign"] >= ACROSS_SUPPORT * it.n_campaign
    ]
    keep = [s for s in keep if s["precision"] >= ACROSS_MIN_PRECISION]
    keep.sort(key=lambda s: (-s["precision"], -s["campaign"]))
    return keep[:ACROSS_TOP]


def precision_at_recall(
    y: np.ndarray, score: np.ndarray, recall: float, target: np.ndarray | None = None
) -> float:
    """The best precision (against ``y``) of any threshold on ``score`` that reaches
    ``recall`` of ``target`` (default ``y``: e.g. one operator's accounts)."""
    target = y if target is None else target
    order = np.argsort(-score, kind="stable")
    ys, ts, ss = y[order], target[order], score[order]
    tp, reached = np.cumsum(ys), np.cumsum(ts)
    # thresholds only between distinct scores; accounts scoring 0 are never flagged
    last = np.r_[ss[1:] != ss[:-1], True] & (ss > 0)
    if not last.any() or target.sum() == 0:
        return 0.0
    k = np.arange(1, len(ys) + 1)[last]
    prec, rec = tp[last] / k, reached[last] / target.sum()
    ok = rec >= recall
    return float(prec[ok].max()) if ok.any() else 0.0


def across(source: list[dict], target: Items, kinds: str = "all") -> tuple[float, float, str]:
    """Items learned on one seed applied to another: (best single-item precision at recall
    0.2, precision at recall 0.2 of the per-account count of items held, the best item).
    ``kinds``: ``values``, ``ngrams`` or ``all``."""
    con = target.con
    if kinds != "all":
        source = [s for s in source if s["kind"].startswith("ngram:") == (kinds == "ngrams")]
    con.register("_learned", pa.table({"item": [s["item"] for s in source] or ["-"]}))
    held = con.execute(
        """
        WITH held AS (
            SELECT col || '=' || v AS item, account_id FROM vals
            UNION ALL SELECT 'ngram:' || h, account_id FROM grams
        )
        SELECT l.account_id, l.operator_id, l.campaign,
               count(h.item) AS n, list(h.item) FILTER (WHERE h.item IS NOT NULL) AS items
        FROM labels l LEFT JOIN (SELECT * FROM held SEMI JOIN _learned USING (item)) h
             USING (account_id)
        GROUP BY ALL
        """
    ).fetchall()
    con.unregister("_learned")
    y = np.array([r[2] for r in held], dtype=int)
    ops = np.array([r[1] or "" for r in held], dtype=object)
    count = np.array([r[3] for r in held], dtype=float)
    # precision over all accounts; recall over one operator's (the most favourable)
    best_count = max(
        (precision_at_recall(y, count, ACROSS_RECALL, y * (ops == op)) for op in target.operators),
        default=0.0,
    )
    holders: dict[str, list[int]] = {}
    for i, r in enumerate(held):
        for item in r[4] or []:
            holders.setdefault(item, []).append(i)
    best_item, best_name = 0.0, ""
    for item, rows in holders.items():
        idx = np.array(rows)
        precision = y[idx].mean()
        reach = max(
            ((ops[idx] == op).sum() / size for op, size in target.operators.items()), default=0
        )
        if reach >= ACROSS_RECALL and precision > best_item:
            best_item, best_name = float(precision), item
    return best_item, best_count, describe(best_name) if best_name else ""


def frame_grams(texts: list[str]) -> set[str]:
    """Word 3-grams of frame text (Chinese: character 3-grams), slots left out."""
    out: set[str] = set()
    for text in texts:
        for piece in re.split(r"\{\w*\}", text):
            words = re.findall(r"[a-z0-9]+", piece.lower())
            out.update(" ".join(words[i : i + 3]) for i in range(len(words) - 2))
            for run in re.findall(r"[\u4e00-\u9fff]+", piece):
                out.update(run[i : i + 3] for i in range(len(run) - 2))
    return out


def operator_frames(scenario: str, seed: int) -> list[set[str]]:
    """Each operator's frame 3-grams as the simulator draws them for ``seed`` (a paraphrasing
    operator's: 300 frames of each family from its dialect)."""
    from stillwatch.sim import corpus
    from stillwatch.sim.prompts import PromptLibrary
    from stillwatch.sim.run import _seeded
    from stillwatch.sim.scenario import load
    from stillwatch.sim.tactics import OperatorPrompts

    lib = PromptLibrary(corpus.load(), np.random.default_rng(0))
    rng = _seeded(seed, 7)  # the stream simulate() draws operators' prompts from
    out = []
    for op in load(scenario, seed=seed).operators:
        o = OperatorPrompts(
            rng,
            lib,
            op["capabilities"],
            str(op["style"]),
            int(op["frames"]),
            float(op["cot_share"]),
            float(op["grader_share"]),
            float(op["zh_share"]),
        )
        texts = [f for _, f, _ in o.frames] + [e for *_, e in o.frames]
        texts += [t for pair in o.zh_frames for t in pair] + o.graders + o.openings
        if o.style == "paraphrase":
            r = np.random.default_rng(seed)
            for _ in range(300):
                for fam in ("reasoning", "zh-task", "zh-reasoning", "grader", "smalltalk"):
                    texts.append(o.dialect.say(r, fam))
                for fam in ("coding", "agent", "long-horizon", "data-analysis", "computer-use"):
                    texts.append(o.dialect.task_frame(r, fam))
        out.append(frame_grams(texts))
    return out


def recurring_frames(it: Items) -> dict[str, int]:
    """Per operator: word 3-grams held by ≥ 30% of its accounts and ≤ 1% of legitimate ones
    (the recurrence of its own frames a detector can find)."""
    rows = it.con.execute(
        """
        WITH g AS (SELECT account_id, h FROM grams WHERE n = 3),
        legit AS (SELECT count(*) AS n FROM labels WHERE NOT campaign),
        per AS (
            SELECT h, l.operator_id, count(*) AS k FROM g JOIN labels l USING (account_id)
            GROUP BY ALL
        ),
        lg AS (SELECT h, k FROM per WHERE operator_id IS NULL)
        SELECT p.operator_id, count(*) FILTER (
            WHERE p.k >= 0.3 * o.size AND coalesce(lg.k, 0) <= 0.01 * (SELECT n FROM legit))
        FROM per p JOIN opsize o USING (operator_id) LEFT JOIN lg USING (h)
        GROUP BY 1
        """
    ).fetchall()
    return {op: int(n) for op, n in rows}
