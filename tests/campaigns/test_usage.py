"""What accounts' conversations ask for (``campaigns.usage``): counted per conversation, so a
harvest request wrapped in small talk counts whole."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from stillwatch.campaigns.usage import prompt_shares
from stillwatch.engine.store import Store

SMALL_TALK = "hi there, hope your week is going well! quick question for you"
THANKS = "thanks so much, that was really helpful, have a great day"
HARVEST = (
    "Write a Python function that merges overlapping intervals in a list. Before answering, "
    "think through the problem step by step and show your complete chain of thought, every "
    "intermediate step of your reasoning, inside <thinking> tags."
)
CHAT = "what is a good name for a golden retriever puppy who loves the beach"


def _insert(store: Store, rows: list[tuple[str, str | None, int, str]]) -> None:
    start = datetime(2026, 5, 1)
    for i, (account, conversation, turn, prompt) in enumerate(rows):
        store.con.execute(
            "INSERT INTO exchanges (event_id, account_id, ts, conversation_id, turn_index, prompt) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [f"e{i:04d}", account, start + timedelta(minutes=i), conversation, turn, prompt],
        )


def test_a_harvest_request_wrapped_in_small_talk_counts_per_conversation(store: Store) -> None:
    rows: list[tuple[str, str | None, int, str]] = []
    for c in range(4):  # every conversation: small talk, the harvest request, thanks
        for t, text in enumerate((SMALL_TALK, HARVEST, THANKS)):
            rows.append(("wrapped", f"w{c}", t, text))
    for _ in range(4):  # chat only, one exchange per conversation, no conversation ids
        rows.append(("chatty", None, 0, CHAT))
    _insert(store, rows)
    shares = prompt_shares(store).set_index("account_id")
    # per prompt the harvest is a third of this account's traffic; per conversation all of it
    assert shares.loc["wrapped", "conversations"] == 4
    assert shares.loc["wrapped", "elicitation_share"] == pytest.approx(1.0)
    # the capability is counted per prompt: one request in three is coding
    assert shares.loc["wrapped", "targeted_share"] == pytest.approx(1 / 3)
    # an exchange without a conversation id is a conversation of its own
    assert shares.loc["chatty", "conversations"] == 4
    assert shares.loc["chatty", "elicitation_share"] == pytest.approx(0.0)


def test_the_sample_is_bounded_per_account(store: Store) -> None:
    rows = [("busy", f"c{c}", t, f"{CHAT} {c} {t}") for c in range(30) for t in range(10)]
    _insert(store, rows)
    shares = prompt_shares(store, conversations=5, turns=2).set_index("account_id")
    assert shares.loc["busy", "conversations"] == 5


def test_the_signals_stages_verdicts_are_read_not_computed_again(store: Store) -> None:
    from stillwatch.detectors.prompts import VERDICTS, classify_into

    rows: list[tuple[str, str | None, int, str]] = []
    for c in range(4):
        for t, text in enumerate((SMALL_TALK, HARVEST, THANKS)):
            rows.append(("wrapped", f"w{c}", t, text))
    rows += [("chatty", None, 0, f"{CHAT} {i}") for i in range(4)]
    _insert(store, rows)
    fresh = prompt_shares(store)
    # the verdicts the signals stage kept, for every exchange: the same shares
    store.con.execute(
        "CREATE TEMP TABLE _all AS SELECT row_number() OVER (ORDER BY event_id) AS rid, "
        "event_id, prompt FROM exchanges"
    )
    classify_into(store.con, "_all", "_all_verdicts")
    store.con.execute(
        f"CREATE TEMP TABLE {VERDICTS} AS SELECT a.event_id, v.elicitation, v.capability "
        "FROM _all a JOIN _all_verdicts v USING (rid)"
    )
    assert prompt_shares(store).equals(fresh)
    # kept for some exchanges only (the rest classified here): the same again
    store.con.execute(f"DELETE FROM {VERDICTS} WHERE event_id < 'e0006'")
    assert prompt_shares(store).equals(fresh)
    # and they are read: a kept verdict that says otherwise shows
    store.con.execute(f"UPDATE {VERDICTS} SET elicitation = 1.0 WHERE event_id = 'e0012'")
    e12 = store.con.execute("SELECT account_id FROM exchanges WHERE event_id = 'e0012'").fetchall()
    changed = prompt_shares(store).set_index("account_id")
    assert e12[0][0] == "chatty"
    assert changed.loc["chatty", "elicitation_share"] == pytest.approx(0.25)
    assert fresh.set_index("account_id").loc["chatty", "elicitation_share"] == 0.0
