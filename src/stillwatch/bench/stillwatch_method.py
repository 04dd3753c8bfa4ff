"""stillwatch itself as a bench method, run like the baselines (in its own process).

It writes the data set's canonical tables (as the bench hands them: with prompt text withheld
under ``--no-content``) to Parquet, ingests them into a temporary store, scans it, and reports
the account scores. Ingest time is reported apart (``stage_seconds``).

The campaigns it reports are the scan's reported campaigns (``campaigns``,
``campaign_members``): members, operator id, estimated accounts and campaign exchanges with
their intervals, first and last day. The account score is the scan's (an account's own score,
or its campaign's times its membership when larger: ``docs/scoring.md``).

Ablation: ``without`` names detector families left out of the scan (their detectors do not
run), so ``stillwatch bench quality --without FAMILY`` shows what each family is worth.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from stillwatch.bench.baselines.account_groups import accounts_seen
from stillwatch.bench.dataset import Dataset
from stillwatch.bench.method import AccountScores, Campaign, MethodResult, check_number
from stillwatch.schema import CANONICAL


class StillwatchMethod:
    """The detection engine at its default settings."""

    name = "stillwatch"
    version = "0.1"

    def __init__(
        self,
        flag_threshold: float = 0.5,
        memory_limit: str = "2GB",
        without: tuple[str, ...] = (),
        settings: dict[str, Any] | None = None,
        no_content: bool = False,
    ) -> None:
        from stillwatch.detectors.base import FAMILIES

        check_number("flag_threshold", flag_threshold, low=0, high=1)
        unknown = sorted(set(without) - set(FAMILIES))
        if unknown:
            raise ValueError(f"without must name detector families {list(FAMILIES)}; got {unknown}")
        self.flag_threshold = flag_threshold
        self.memory_limit = memory_limit
        self.without = tuple(sorted(without))
        self.extra = dict(settings or {})
        self.no_content = no_content
        if self.without:
            self.name = "stillwatch~" + ",".join(self.without)
        if no_content:
            self.name = "stillwatch@no-content"

    def params(self) -> dict[str, Any]:
        from stillwatch.detectors.registry import detectors

        return {
            "flag_threshold": self.flag_threshold,
            "detectors": {d.id: d.version for d in detectors() if d.family not in self.without},
            "without": list(self.without),
            "no_content": self.no_content,
            "settings": self._settings(),
        }

    def _settings(self) -> dict[str, Any]:
        from stillwatch.settings import BY_NAME

        names = [n for n in BY_NAME if n.startswith(("campaign_", "link_"))]
        return {**{n: BY_NAME[n].default for n in names}, **self.extra,
                "flag_threshold": self.flag_threshold, "rules": ""}  # fmt: skip

    def run(self, dataset: Dataset) -> MethodResult:
        from stillwatch.engine.store import open_store
        from stillwatch.ingest import discover, ingest
        from stillwatch.pipeline import scan

        account_ids = accounts_seen(dataset)
        if not len(account_ids):  # nothing to scan: empty in, empty out
            return MethodResult(AccountScores(account_ids, np.zeros(0)))
        with tempfile.TemporaryDirectory(prefix="stillwatch-bench-") as tmp:
            folder = Path(tmp) / "data"
            folder.mkdir()
            start = time.perf_counter()
            for name in CANONICAL:
                if name in dataset.sources:
                    target = str(folder / f"{name}.parquet").replace("'", "''")
                    present = {r[0] for r in dataset.con.execute(f"DESCRIBE {name}").fetchall()}
                    text = [c for c in ("prompt", "system_prompt", "response") if c in present]
                    cols = "* REPLACE (" + ", ".join(
                        f"CAST(NULL AS VARCHAR) AS {c}" for c in text) + ")"  # fmt: skip
                    select = cols if (self.no_content and name == "exchanges" and text) else "*"
                    dataset.con.execute(
                        f"COPY (SELECT {select} FROM {name}) TO '{target}' (FORMAT parquet)"
                    )
            sources, _ = discover([str(folder)])
            with open_store(Path(tmp) / "store.duckdb", memory_limit=self.memory_limit) as store:
                ingest(store, sources, batch_rows=500_000, max_text_bytes=1 << 20)
                ingest_seconds = time.perf_counter() - start
                from stillwatch.detectors.registry import detectors

                only = [d.id for d in detectors() if d.family not in self.without]
                result = scan(store, self._settings(), only=only)
                return scan_result(store, result.scan_id, account_ids,
                                   {"ingest": round(ingest_seconds, 3), **result.seconds})  # fmt: skip


def scan_result(
    store: Any, scan_id: str, account_ids: np.ndarray, stage_seconds: dict[str, float] | None = None
) -> MethodResult:
    """What one scan in ``store`` reports, as the scorer reads a method's result: each of
    ``account_ids``' score (0 where the scan gave none) and the reported campaigns."""
    rows = store.sql("SELECT account_id, score FROM account_scores WHERE scan_id = ?", [scan_id])
    scores = {a: float(s) for a, s in rows}
    values = np.array([scores.get(a, 0.0) for a in account_ids.tolist()])
    return MethodResult(
        AccountScores(account_ids, np.clip(values, 0, 1)),
        _campaigns(store, scan_id),
        stage_seconds=stage_seconds or {},
    )


def _campaigns(store: Any, scan_id: str) -> tuple[Campaign, ...]:
    members: dict[str, list[str]] = {}
    for cid, account in store.sql(
        "SELECT campaign_id, account_id FROM campaign_members WHERE scan_id = ? "
        "ORDER BY campaign_id, account_id",
        [scan_id],
    ):
        members.setdefault(cid, []).append(account)
    out = []
    for row in store.sql(
        "SELECT campaign_id, operator_id, accounts, accounts_low, accounts_high, exchanges, "
        "exchanges_low, exchanges_high, first_seen, last_seen, member_exchanges FROM campaigns "
        "WHERE scan_id = ? AND status = 'reported' AND first_seen IS NOT NULL "
        "ORDER BY exchanges DESC, campaign_id",
        [scan_id],
    ):
        cid, op, n, n_lo, n_hi, ex, ex_lo, ex_hi, first, last, member_ex = row
        out.append(
            Campaign(
                accounts=tuple(members[cid]),
                estimated_accounts=int(n),
                estimated_exchanges=int(ex),
                exchanges_interval=(int(ex_lo), int(ex_hi)),
                first_day=first,
                last_day=last,
                operator_id=op,
                accounts_interval=(int(n_lo), int(n_hi)),
                member_exchanges=int(member_ex) if member_ex is not None else None,
            )
        )
    return tuple(out)
