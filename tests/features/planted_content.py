"""Planted prompt traffic for the content tests: organic accounts, look-alikes, a campaign."""

from __future__ import annotations

import random

SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ren",
    "tas",
    "bel",
    "dor",
    "fen",
    "gu",
    "hap",
    "jis",
    "ul",
    "ve",
    "wor",
    "zan",
]
OPENERS = [
    "how do i",
    "can you help me with",
    "please explain",
    "what is",
    "tell me about",
    "i want to know",
]
GRADER = (
    "Question: {q}\nAnswer: {a}\nYou are a strict judge. Rate the answer above from 1 to 10 "
    "for correctness and reply with the number only."
)
POPULAR = "What is the meaning of life, the universe and everything according to the famous book?"
SYSTEM = "You are a helpful assistant. Answer the user's question concisely and politely. {q}"


def planted(seed: int = 1) -> tuple[list[str], list[str], set[str]]:
    """(account_ids, prompts, campaign accounts)."""
    rng = random.Random(seed)
    vocab = ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))) for _ in range(3000)]

    def phrase(n: int) -> str:
        return " ".join(rng.choice(vocab) for _ in range(n))

    accounts: list[str] = []
    prompts: list[str] = []
    for a in range(200):
        for _ in range(rng.randint(3, 30)):
            accounts.append(f"u{a}")
            prompts.append(f"{rng.choice(OPENERS)} {phrase(rng.randint(4, 15))}?")
    for a in range(60):  # a popular question, asked verbatim by many unrelated accounts
        accounts.append(f"u{a}")
        prompts.append(POPULAR)
    for a in range(0, 200, 2):  # a common system prompt: half of all accounts
        for _ in range(3):
            accounts.append(f"u{a}")
            prompts.append(SYSTEM.format(q=phrase(8)))
    campaign = {f"c{a}" for a in range(8)}
    for acc in sorted(campaign):
        for _ in range(20):
            accounts.append(acc)
            prompts.append(GRADER.format(q=phrase(10), a=phrase(12)))
    return accounts, prompts, campaign
