"""Conversation shape per account: how many conversations, how deep they go.

Catches: harvesting that sends one question per conversation (single-turn sweeps). Known false
positives: API users who never send a conversation id, classification and extraction apps,
evaluation harnesses (single-turn by design).
"""

from __future__ import annotations

import ibis.expr.types as ir

from stillwatch.features.sources import Sources, share


def conversation_features(src: Sources) -> ir.Table:
    ex = src.exchanges
    ex = ex.filter(ex.conversation_id.notnull())
    convs = ex.group_by("account_id", "conversation_id").aggregate(
        n=ex.count(), deepest=ex.turn_index.max()
    )
    return convs.group_by("account_id").aggregate(
        conversations=convs.count(),
        single_turn_share=share(convs.n == 1),
        mean_turn_depth=(convs.deepest.fill_null(0) + 1).mean().cast("float64"),
    )
