"""What each account's prompts ask for, on a small sample: the share asking for reasoning
traces (the elicitation classifier) and the share targeting a frontier capability (the
capability classifier's coding, agentic tool use, long-horizon planning, maths, data analysis).

The campaign judgement pools these over a cluster's members and compares them with the whole
population (``judge.harvest_lift``): a hydra's accounts each send a handful of prompts, too
few for a per-account detector, but a few dozen accounts' samples together show what the
cluster is harvesting. Every account is sampled (not only clustered ones), so the null model
can draw any account's shares.

Needs prompt text; without it (a metadata-only store, ``--no-content``) both shares are
missing and the judgement uses the token shapes alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stillwatch.detectors.content import TARGETED, content_module
from stillwatch.engine.store import Store

# Prompts sampled per account, the first by event id (deterministic, as the content detectors
# sample). Enough for a share per account; a cluster pools many accounts' samples.
PER_ACCOUNT = 24


def prompt_shares(store: Store, per_account: int = PER_ACCOUNT) -> pd.DataFrame:
    """Per account with prompt text: ``prompts`` sampled, ``elicitation_share`` and
    ``targeted_share`` of them. Empty (with those columns) when the content classifiers are
    not installed or no prompt text is stored."""
    columns = ["account_id", "prompts", "elicitation_share", "targeted_share"]
    elicitation, capability = content_module("elicitation"), content_module("capability")
    if elicitation is None or capability is None:
        return pd.DataFrame(columns=columns)
    sample = store.con.execute(
        "SELECT account_id, prompt FROM (SELECT account_id, prompt, row_number() OVER "
        "(PARTITION BY account_id ORDER BY event_id) AS r FROM exchanges "
        "WHERE prompt IS NOT NULL) WHERE r <= ? ORDER BY account_id",
        [per_account],
    ).df()
    if sample.empty:
        return pd.DataFrame(columns=columns)
    texts = sample.prompt.tolist()
    hit = np.asarray(elicitation.score(texts), dtype=float) >= 0.5
    targeted = np.isin(np.asarray(capability.classify(texts), dtype=object), TARGETED)
    g = sample.assign(e=hit, t=targeted).groupby("account_id", sort=True)
    out = pd.DataFrame({"prompts": g.size(), "elicitation_share": g.e.mean(),
                        "targeted_share": g.t.mean()})  # fmt: skip
    return out.reset_index()
