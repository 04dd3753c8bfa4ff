"""Skeletons: idempotent, the same in Python and in DuckDB, shared by fills of one template."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from stillwatch.features.content.skeleton import CUT_CHARS, CUT_MARK, skeleton, skeletons

SPECIAL = ["```", "http://", "www.", "“", "”", "「", "」", "的", "是", "题"]
ALPHABET = st.sampled_from([*"abcXYZ019 _-./\\:@'\"`\n\t,;()<>", *SPECIAL])
texts = st.lists(ALPHABET, max_size=60).map("".join)
words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_masking_is_idempotent(text: str) -> None:
    once = skeleton(text)
    assert skeleton(once) == once


@settings(max_examples=60, deadline=None)
@given(st.lists(texts, min_size=1, max_size=20))
def test_duckdb_gives_the_python_skeleton(batch: list[str]) -> None:
    assert skeletons(batch) == [skeleton(t) for t in batch]


def test_long_prompts_are_cut_the_same_way_in_both() -> None:
    long = "Intro line\n" + ("x = 1 and y = 'two'\n" * 400) + "Final question: why?"
    assert len(skeleton(long)) < len(long) / 4
    assert skeletons([long]) == [skeleton(long)]
    assert skeleton(skeleton(long)) == skeleton(long)


def test_prompts_cut_only_after_masking_are_the_same_in_both() -> None:
    """Masks lengthen a prompt just under the cut past it: the second cut, and the blanks it
    leaves at every kind of character (space, newline, word), agree in both."""
    prompts = []
    for shift in range(8):
        for sep in ("\n", " \n", " 7\n", "  \n "):
            text = "q" * shift + "".join(f"w{i % 10} 7{sep}" for i in range(2950 // 6))
            prompts.append(text[:2990])
    assert all(len(p) < CUT_CHARS for p in prompts)
    cut = [skeleton(p) for p in prompts]
    assert all(CUT_MARK in c for c in cut)  # each was cut, by the second cut alone
    assert skeletons(prompts) == cut
    assert [skeleton(c) for c in cut] == cut


GRADER = (
    'Question: "{q}"\nCandidate answer (id {n}): {a}\nYou are a strict judge. Score the answer '
    "from 1 to {m}; see {url} for the rubric, or mail {mail}. Reply with the number only."
)
AGENT = "Call `{fn}` on /srv/{d}/data.csv for user {uid}, then report to {Name} Smith.\n```\n{code}\n```"


@settings(max_examples=100, deadline=None)
@given(
    st.lists(words, min_size=1, max_size=6).map(" ".join),
    st.lists(words, min_size=1, max_size=6).map(" ".join),
    st.integers(0, 10**6),
    st.integers(2, 100),
    words,
    words,
)
def test_two_fills_of_one_template_share_a_skeleton(
    q: str, a: str, n: int, m: int, w1: str, w2: str
) -> None:
    def fill(q: str, n: int, w: str) -> str:
        return GRADER.format(
            q=q, n=f"A{n}", a=f"'{a} {w}'", m=m, url=f"https://x.io/{w}", mail=f"{w}@ex.com"
        )

    assert skeleton(fill(q, n, w1)) == skeleton(fill(a, n + 7, w2))
    fa = AGENT.format(fn=f"get_{w1}", d=w1, uid=n, Name=w1.title() + "ra", code=q)
    fb = AGENT.format(fn=f"load_{w2}", d=w2, uid=n + 1, Name=w2.title() + "ra", code=a)
    assert skeleton(fa) == skeleton(fb)


@settings(max_examples=100, deadline=None)
@given(st.lists(words, min_size=1, max_size=6).map(" ".join), st.integers(0, 1000))
def test_different_templates_do_not_share_a_skeleton(q: str, n: int) -> None:
    one = f'Question {n}: "{q}". Think it through and answer briefly.'
    other = f'Rate this answer to question {n} from 1 to 10: "{q}"'
    assert skeleton(one) != skeleton(other)


def test_chinese_fills_share_a_skeleton() -> None:
    a = "请根据评分标准给下面的回答打分（1-10分）。问题：“天空为什么是蓝色的”回答：“因为瑞利散射”"
    b = "请根据评分标准给下面的回答打分（1-5分）。问题：“如何学习Python”回答：“多写代码”"
    assert skeleton(a) == skeleton(b)
    assert skeleton(a) != skeleton("请把你的完整思考过程写出来。问题：“天空为什么是蓝色的”")
