"""What each account's prompts ask for, on a small sample: the share of its conversations
asking for reasoning traces somewhere (the elicitation classifier), and the share of its
prompts targeting a frontier capability (the capability classifier's coding, agentic tool
use, long-horizon planning, maths, data analysis).

Elicitation is counted by conversation: an operator that expects detection wraps each harvest
request in a conversation that opens with small talk and closes with thanks (THREATS.md:
multi-turn wrappers); a reasoning-trace instruction given once governs the answers of the
whole conversation, so per prompt its share is diluted by the wrapper's turns while per
conversation it is what the operator harvests. A capability is counted by prompt: it belongs
to each request (a chat with one coding question in it is not a coding harvest), and counted
by conversation a long legitimate chat would nearly always "target" something. An exchange
without a conversation id is a conversation of its own.

The campaign judgement pools these over a cluster's members and compares them with the whole
population (``judge.harvest_lift``): a hydra's accounts each send a handful of prompts, too
few for a per-account detector, but a few dozen accounts' samples together show what the
cluster is harvesting. Every account is sampled (not only clustered ones), so the null model
can draw any account's shares.

Needs prompt text; without it (a metadata-only store, ``--no-content``) both shares are
missing and the judgement uses the token shapes alone.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from stillwatch.detectors.content import TARGETED, content_module
from stillwatch.detectors.prompts import VERDICTS, classify_into, is_kept
from stillwatch.engine.store import Store

# Conversations sampled per account (by a hash of their id: deterministic, as the content
# detectors sample), and turns read per conversation (its first). Enough for a share per
# account; a cluster pools many accounts' samples.
CONVERSATIONS = 12
TURNS = 6


def prompt_shares(
    store: Store, conversations: int = CONVERSATIONS, turns: int = TURNS
) -> pd.DataFrame:
    """Per account with prompt text: ``conversations`` sampled, ``elicitation_share`` of
    them and ``targeted_share`` of their sampled prompts. Empty (with those columns) when the content classifiers are
    not installed or no prompt text is stored."""
    columns = ["account_id", "conversations", "elicitation_share", "targeted_share"]
    elicitation, capability = content_module("elicitation"), content_module("capability")
    textmodel = content_module("textmodel")
    if elicitation is None or capability is None or textmodel is None:
        return pd.DataFrame(columns=columns)
    con = store.con
    # The sample is chosen without the prompt text, which is fetched for the chosen exchanges
    # alone (medium hydra-loud, 4.9 M prompts: 34 s → 20 s, the same rows).
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _sw_usage AS
        WITH chosen AS (
            SELECT event_id, account_id, conversation, t FROM (
                SELECT event_id, account_id, conversation,
                    dense_rank() OVER (PARTITION BY account_id
                                       ORDER BY md5(conversation), conversation) AS c,
                    row_number() OVER (PARTITION BY account_id, conversation
                                       ORDER BY turn_index NULLS LAST, event_id) AS t
                FROM (SELECT account_id, coalesce(conversation_id, 'exchange:' || event_id)
                             AS conversation, turn_index, event_id
                      FROM exchanges WHERE prompt IS NOT NULL))
            WHERE c <= {int(conversations)} AND t <= {int(turns)}
        )
        SELECT row_number() OVER (ORDER BY s.account_id, s.conversation, s.t) AS rid,
               s.account_id, s.conversation, s.event_id, e.prompt
        FROM chosen s JOIN exchanges e USING (event_id)
        """
    )
    try:
        _verdicts(con)
        targeted = ", ".join(f"'{c}'" for c in TARGETED)
        return con.execute(
            f"""
            WITH v AS (
                SELECT u.account_id, u.conversation, v.elicitation >= 0.5 AS e,
                       v.capability IN ({targeted}) AS t
                FROM _sw_usage u JOIN _sw_usage_verdicts v USING (rid)
            ),
            conv AS (SELECT account_id, conversation, bool_or(e) AS e FROM v GROUP BY ALL),
            a AS (
                SELECT account_id, count(*) AS conversations,
                       avg(CAST(e AS DOUBLE)) AS elicitation_share
                FROM conv GROUP BY ALL
            ),
            b AS (SELECT account_id, avg(CAST(t AS DOUBLE)) AS targeted_share FROM v GROUP BY ALL)
            SELECT account_id, conversations, elicitation_share, targeted_share
            FROM a JOIN b USING (account_id) ORDER BY account_id
            """
        ).df()[columns]
    finally:
        for table in ("_sw_usage", "_sw_usage_todo", "_sw_usage_verdicts"):
            con.execute(f"DROP TABLE IF EXISTS {table}")


def _verdicts(con: Any) -> None:
    """``_sw_usage_verdicts`` for every prompt of ``_sw_usage``: the signals stage's verdicts
    where it classified the same exchange (``prompts.VERDICTS``; a classifier's verdict depends
    on the prompt alone, so they are the same), the rest classified in batches inside DuckDB
    (a large store's sample never sits in Python)."""
    if not is_kept(con, VERDICTS):
        classify_into(con, "_sw_usage", "_sw_usage_verdicts")
        return
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _sw_usage_todo AS SELECT u.rid, u.prompt FROM _sw_usage u "
        f"ANTI JOIN {VERDICTS} v USING (event_id)"
    )
    classify_into(con, "_sw_usage_todo", "_sw_usage_verdicts")
    con.execute(
        "INSERT INTO _sw_usage_verdicts SELECT u.rid, v.elicitation, v.capability "
        f"FROM _sw_usage u JOIN {VERDICTS} v USING (event_id)"
    )
