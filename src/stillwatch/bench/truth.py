"""Ground truth of a simulated data set, as the scorer needs it.

Read from ``labels_accounts`` / ``labels_exchanges`` (joined to ``exchanges.ts`` for the
campaigns' first and last day). Only the scorer imports this module.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from stillwatch.bench.dataset import ground_truth_connection


@dataclass(frozen=True)
class TrueCampaign:
    campaign_id: str
    operator_id: str | None
    accounts: int
    exchanges: int
    first_day: date | None
    last_day: date | None


@dataclass(frozen=True)
class Truth:
    """Every account of a data set with its label, and every true campaign's size."""

    account_ids: np.ndarray
    campaign_ids: np.ndarray  # object: campaign id, or None for an account in none
    operator_ids: np.ndarray  # object: operator id, or None for a legitimate account
    kinds: np.ndarray  # "campaign", "benign" or "benign:<look-alike kind>"
    campaigns: dict[str, TrueCampaign]

    def __post_init__(self) -> None:
        for name in ("account_ids", "campaign_ids", "operator_ids", "kinds"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=object))
        n = len(self.account_ids)
        if any(len(getattr(self, a)) != n for a in ("campaign_ids", "operator_ids", "kinds")):
            raise ValueError("account_ids, campaign_ids, operator_ids and kinds differ in length")
        if len(np.unique(self.account_ids)) != n:
            raise ValueError("account_ids must be unique")

    @property
    def in_campaign(self) -> np.ndarray:
        return np.array([c is not None for c in self.campaign_ids], dtype=bool)

    @property
    def operators(self) -> list[str]:
        return sorted({o for o in self.operator_ids if o is not None})

    @classmethod
    def from_labels(
        cls,
        labels: list[tuple[str, str | None, str | None, str]],
        campaign_exchanges: dict[str, tuple[int, date | None, date | None]] | None = None,
    ) -> Truth:
        """Hand-built truth: ``(account_id, operator_id, campaign_id, kind)`` rows and, per
        campaign, ``(exchanges, first_day, last_day)``."""
        ids = [r[0] for r in labels]
        operators = [r[1] for r in labels]
        campaign_ids = [r[2] for r in labels]
        kinds = [r[3] for r in labels]
        campaign_exchanges = campaign_exchanges or {}
        campaigns: dict[str, TrueCampaign] = {}
        members = Counter(c for c in campaign_ids if c is not None)
        operator_of: dict[str, str | None] = {}
        for cid, op in zip(campaign_ids, operators, strict=True):
            if cid is not None:
                operator_of.setdefault(cid, op)
        for cid in sorted(members):
            exchanges, first, last = campaign_exchanges.get(cid, (0, None, None))
            campaigns[cid] = TrueCampaign(
                cid, operator_of[cid], members[cid], exchanges, first, last
            )
        return cls(
            np.array(ids, dtype=object),
            np.array(campaign_ids, dtype=object),
            np.array(operators, dtype=object),
            np.array(kinds, dtype=object),
            campaigns,
        )

    @classmethod
    def from_folder(cls, folder: str | Path) -> Truth:
        con = ground_truth_connection(folder)
        try:
            # Every account seen: labelled ones, plus any that only appear in the traffic
            # (counted as ordinary legitimate accounts).
            labels = con.execute(
                """
                SELECT account_id, operator_id, campaign_id, coalesce(kind, 'benign') AS kind
                FROM labels_accounts
                UNION ALL
                SELECT DISTINCT e.account_id, NULL, NULL, 'benign'
                FROM exchanges e ANTI JOIN labels_accounts l USING (account_id)
                ORDER BY account_id
                """
            ).fetchall()
            sizes = con.execute(
                """
                SELECT l.campaign_id, count(*) AS exchanges,
                       min(CAST(e.ts AS DATE)) AS first_day, max(CAST(e.ts AS DATE)) AS last_day
                FROM labels_exchanges l LEFT JOIN exchanges e USING (event_id)
                GROUP BY l.campaign_id
                """
            ).fetchall()
        finally:
            con.close()
        by_campaign = {row[0]: (int(row[1]), row[2], row[3]) for row in sizes}
        return cls.from_labels([tuple(r) for r in labels], by_campaign)
