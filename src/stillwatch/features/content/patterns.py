"""Hand-made pattern features of the content classifiers: keyword groups and prompt shapes.

A keyword group is present in a prompt when one of its keywords is among the tokens of the
prompt's ends; a conjunction of two groups (``CONJUNCTIONS``: "complete" with "reasoning",
"score" with "answer", a question/answer pair) is a feature a linear model cannot form from the
groups alone. Shapes bin the share of punctuation tokens (code, JSON, tables), of number tokens
(data) and the token count. Found by token hash through lookup tables, so they cost no pass of
a regular expression. Known false friends: "return rate", "credit score" and "a detailed
step-by-step guide" raise groups too; the regression weighs them against the words around.
"""

from __future__ import annotations

import hashlib

import numpy as np
import scipy.sparse as sp

from stillwatch.features.content.tokens import (
    BI_SALT,
    BITS,
    UNI_SALT,
    Tokens,
    as_binary,
    bucket,
    tokenize,
)

# Keyword groups: a keyword is one token, or a pair of tokens for a Chinese word or a word and
# its colon; a longer one is found by its first two tokens. Each group and each conjunction is
# one feature the regression weighs, not a rule: "a detailed step-by-step guide" has QUANTITY
# and REASONING words too, and the words around it outweigh them.
KEYWORDS: dict[str, tuple[str, ...]] = {
    "quantity": (
        "complete",
        "full",
        "entire",
        "whole",
        "detailed",
        "thorough",
        "exhaustive",
        "every",
        "all",
        "each",
        "comprehensive",
        "explicit",
        "完整",
        "详细",
        "全部",
        "所有",
        "每一",
        "详尽",
        "逐步",
        "一步一步",
    ),
    "reasoning": (
        "reasoning",
        "thinking",
        "thought",
        "thoughts",
        "working",
        "steps",
        "monologue",
        "deliberation",
        "rationale",
        "deduction",
        "inference",
        "推理",
        "思考",
        "思维",
        "思路",
        "过程",
        "步骤",
        "推导",
    ),
    "no_skipping": ("skip", "skipping", "omit", "implicit", "省略", "跳过", "遗漏"),
    "think_tags": (
        "< think",
        "< thinking",
        "< reasoning",
        "< scratchpad",
        "scratchpad",
        "aloud",
        "monologue",
        "< 思",
        "思考 >",
    ),
    "backfill": (
        "reconstruct",
        "backfill",
        "back-fill",
        "rationalize",
        "rationalise",
        "reverse-engineer",
        "imagine",
        "pretend",
        "articulate",
        "infer",
        "justify",
        "justification",
        "反推",
        "还原",
        "补写",
        "补全",
        "倒推",
        "设想",
        "想象",
    ),
    "given": (
        "given",
        "known",
        "accepted",
        "reference",
        "gold",
        "target",
        "expected",
        "correct",
        "final",
        "finished",
        "completed",
        "已知",
        "给定",
        "标准",
        "参考",
        "最终",
        "已经",
    ),
    "answer_word": (
        "answer",
        "response",
        "reply",
        "output",
        "completion",
        "submission",
        "essay",
        "candidate",
        "label",
        "responses",
        "answers",
        "replies",
        "outputs",
        "答案",
        "回答",
        "回复",
        "作答",
        "输出",
    ),
    "judge": (
        "score",
        "rate",
        "grade",
        "rank",
        "judge",
        "evaluate",
        "assess",
        "mark",
        "critique",
        "rating",
        "scores",
        "grading",
        "打分",
        "评分",
        "评审",
        "评委",
        "评判",
        "满分",
        "给分",
        "扣分",
        "评估",
        "评价",
        "批改",
        "阅卷",
    ),
    "judge_strong": (
        "rubric",
        "reward",
        "impartial",
        "evaluator",
        "verdict",
        "preferred",
        "grader",
        "奖励",
        "胜者",
        "评分标准",
        "评分细则",
    ),
    "qa_question": (
        "question :",
        "prompt :",
        "q :",
        "input :",
        "task :",
        "问题 ：",
        "题目 ：",
        "问 ：",
    ),
    "qa_answer": (
        "answer :",
        "response :",
        "a :",
        "output :",
        "reply :",
        "回答 ：",
        "答案 ：",
        "答 ：",
        "completion :",
    ),
    "create": ("write", "design", "create", "make", "build", "suggest", "template", "设计", "制定"),
    "rubric": ("rubric", "rubrics", "评分标准", "评分表", "量规"),
    "let_think": ("s think", "think step", "一步一步", "一步步"),
    "tool": (
        "action :",
        "observation :",
        "thought :",
        "tool_call",
        "tools",
        "tool",
        "function_call",
        "functions",
        "click",
        "screenshot",
        "browser",
        "工具",
        "观察 ：",
        "行动 ：",
        "调用",
    ),
}
CONJUNCTIONS: tuple[tuple[str, str], ...] = (
    ("quantity", "reasoning"),
    ("no_skipping", "reasoning"),
    ("backfill", "reasoning"),
    ("given", "answer_word"),
    ("judge", "answer_word"),
    ("qa_question", "qa_answer"),
    ("create", "rubric"),
    ("judge", "qa_answer"),
)
if len(KEYWORDS) > 16:  # pragma: no cover - a programming error
    raise ValueError("a prompt's keyword groups are one 16-bit mask: at most 16 groups")
_GROUP_BITS = 21  # keyword lookups use finer buckets than the features: fewer false hits


def _column(name: str) -> int:
    h = np.frombuffer(hashlib.md5(f"pattern:{name}".encode()).digest()[:8], np.uint64)
    return int(h[0] >> np.uint64(64 - BITS))


def _keyword_tables() -> tuple[np.ndarray, np.ndarray]:
    """Group bit masks by fine bucket of a token (one-token keywords) and of a token pair."""
    single = np.zeros(1 << _GROUP_BITS, np.uint16)  # 4 MB each: gathers stay in cache
    double = np.zeros(1 << _GROUP_BITS, np.uint16)
    for g, (_, words) in enumerate(KEYWORDS.items()):
        toks = tokenize(as_binary(list(words)))
        ends = np.cumsum(toks.counts)
        pair_ends = np.cumsum(toks.pair_counts)
        for i, k in enumerate(toks.counts):
            if k == 1:
                single[bucket(toks.hashes[ends[i] - 1 : ends[i]], UNI_SALT, _GROUP_BITS)] |= 1 << g
            elif k >= 2:  # a longer keyword is found by its first two tokens
                first_pair = pair_ends[i] - toks.pair_counts[i]
                pair = toks.pair_hashes[first_pair : first_pair + 1]
                double[bucket(pair, BI_SALT, _GROUP_BITS)] |= 1 << g
    return single, double


_SINGLE, _DOUBLE = _keyword_tables()
_GROUP_COLUMNS = np.array([_column(f"group:{g}") for g in KEYWORDS], np.int32)
_CONJUNCTION_MASKS = [
    (1 << list(KEYWORDS).index(a)) | (1 << list(KEYWORDS).index(b)) for a, b in CONJUNCTIONS
]
_CONJUNCTION_COLUMNS = np.array([_column(f"and:{a}:{b}") for a, b in CONJUNCTIONS], np.int32)
# A prompt's shape from its tokens: share of punctuation tokens (code, JSON, tables), share of
# number tokens (data), and token count; each binned, one feature per bin.
_SHAPES = {
    "punct": np.array([0.05, 0.15, 0.3, 0.45]),
    "digit": np.array([0.02, 0.08, 0.2, 0.35]),
    "length": np.array([4, 12, 30, 80, 200]),
}
_SHAPE_COLUMNS = {
    k: np.array([_column(f"{k}:{i}") for i in range(len(v) + 1)], np.int32)
    for k, v in _SHAPES.items()
}


def _or_per_prompt(masks: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Bitwise OR of consecutive runs of ``counts`` masks (0 for an empty run)."""
    out = np.zeros(len(counts), np.uint16)
    if len(masks) == 0:
        return out
    starts = np.zeros(len(counts), np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    full = counts > 0
    out[full] = np.bitwise_or.reduceat(masks, starts[full])
    return out


def groups(t: Tokens) -> np.ndarray:
    """Bit mask of the keyword groups in each prompt."""
    single = _or_per_prompt(_SINGLE[bucket(t.hashes, UNI_SALT, _GROUP_BITS)], t.counts)
    double = _or_per_prompt(_DOUBLE[bucket(t.pair_hashes, BI_SALT, _GROUP_BITS)], t.pair_counts)
    return single | double


def flags(
    groups: np.ndarray, counts: np.ndarray, punct: np.ndarray, digit: np.ndarray
) -> sp.csr_matrix:
    n = len(groups)
    bits = ((groups[:, None] >> np.arange(len(KEYWORDS), dtype=np.uint16)) & 1).astype(bool)
    both = np.stack([(groups & m) == m for m in _CONJUNCTION_MASKS], axis=1)
    share = np.maximum(counts, 1)
    shape = np.stack(
        [
            _SHAPE_COLUMNS["punct"][np.searchsorted(_SHAPES["punct"], punct / share)],
            _SHAPE_COLUMNS["digit"][np.searchsorted(_SHAPES["digit"], digit / share)],
            _SHAPE_COLUMNS["length"][np.searchsorted(_SHAPES["length"], counts)],
        ],
        axis=1,
    )
    r1, c1 = np.nonzero(bits)
    r2, c2 = np.nonzero(both)
    rows = np.concatenate([r1, r2, np.repeat(np.arange(n), shape.shape[1])])
    cols = np.concatenate([_GROUP_COLUMNS[c1], _CONJUNCTION_COLUMNS[c2], shape.ravel()])
    return sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n, 1 << BITS))
