"""A small planted data set with known actors, written by hand (not the simulator): ordinary
users, CGNAT users, an enterprise coding fleet, and one campaign with a replacement after a
ban. Used by the feature, detector-contract, Spark and explain tests; deterministic.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

START = datetime(2026, 4, 22)
DAYS = 7
RELEASE = START + timedelta(days=4)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Planted:
    def __init__(self, seed: int = 7) -> None:
        self.rng = np.random.default_rng(seed)
        self.exchanges: list[dict[str, Any]] = []
        self.accounts: list[dict[str, Any]] = []
        self.enforcements: list[dict[str, Any]] = []
        self.kind: dict[str, str] = {}
        self._conv = 0

    def account(self, kind: str, n: int, **fields: Any) -> str:
        account_id = f"acct_{kind}_{n:03d}"
        self.kind[account_id] = kind
        self.accounts.append({"account_id": account_id, **fields})
        return account_id

    def exchange(self, account_id: str, ts: datetime, **fields: Any) -> None:
        event = f"ev_{len(self.exchanges):06d}"
        prompt = fields.pop("prompt", f"question {self.rng.integers(1_000_000)} about things")
        row = {
            "event_id": event, "ts": ts, "account_id": account_id, "model": "atlas-3",
            "prompt": prompt, "prompt_sha256": _sha(prompt), "status": "ok",
            "input_tokens": int(self.rng.integers(100, 900)),
            "output_tokens": int(self.rng.integers(100, 700)),
            "reasoning_tokens": 0, "max_tokens": 4096, "thinking": False, "tools_count": 0,
            "turn_index": 0,
        }  # fmt: skip
        row.update(fields)
        self.exchanges.append(row)

    def conversation(self) -> str:
        self._conv += 1
        return f"conv_{self._conv:06d}"

    def humans(
        self, kind: str, n: int, offset: int, ip: Any, asn: int, created_days: float
    ) -> None:
        r = self.rng
        for i in range(n):
            a = self.account(
                kind, i, created_at=START - timedelta(days=created_days + i), verified=True,
                signup_path="self-serve", email_domain="gmail.com",
                payment_fingerprint=f"pm_{kind}_{i}", signup_ip=ip(i), country="US",
            )  # fmt: skip
            for day in range(DAYS):
                if r.random() < 0.3 or (START + timedelta(days=day)).weekday() >= 5:
                    continue
                conv = self.conversation()
                for turn in range(int(r.integers(1, 5))):
                    local_hour = 9 + r.random() * 9
                    ts = START + timedelta(days=day, hours=local_hour - offset + turn * 0.05)
                    model = (
                        "atlas-4"
                        if ts >= RELEASE + timedelta(hours=30) and i % 3 == 0
                        else "atlas-3"
                    )
                    self.exchange(a, ts, conversation_id=conv, turn_index=turn, ip=ip(i),
                                  asn=asn, user_agent="Mozilla/5.0 chat-web",
                                  tls_fingerprint="tls-browser", model=model)  # fmt: skip

    def fleet(self, n: int = 8) -> None:
        r = self.rng
        for i in range(n):
            a = self.account(
                "fleet", i, created_at=START - timedelta(days=300 + 10 * i), verified=True,
                signup_path="enterprise", email_domain="acme-robotics.com",
                payment_fingerprint="pm_acme", signup_ip="3.5.140.20", country="US",
                org_name="Acme Robotics",
            )  # fmt: skip
            for hour in range(DAYS * 24):
                if r.random() < 0.5:
                    continue
                conv = self.conversation()
                for turn in range(int(r.integers(3, 8))):
                    ts = START + timedelta(hours=hour, minutes=turn * 3 + float(r.random()))
                    self.exchange(a, ts, conversation_id=conv, turn_index=turn,
                                  ip=f"3.5.140.{10 + i}", asn=16509, tools_count=5,
                                  user_agent="anthropic-sdk-python/0.40", tls_fingerprint="tls-py311",
                                  input_tokens=int(r.integers(3000, 6000)),
                                  output_tokens=int(r.integers(300, 900)),
                                  prompt=f"[agent step] run tests in repo module {r.integers(100)}")  # fmt: skip

    def campaign(self, n: int = 12) -> None:
        r = self.rng
        made = START - timedelta(hours=3)
        members = []
        for i in range(n):
            members.append(self.account(
                "campaign", i, created_at=made + timedelta(minutes=7 * i), verified=False,
                signup_path="research-program", email_domain="mailbox-relay.net",
                payment_fingerprint=f"pm_relay_{i % 3}", signup_ip=f"95.216.12.{20 + i}",
                country="SG",
            ))  # fmt: skip
        banned = members[5]
        ban_at = START + timedelta(days=2)
        self.enforcements.append({"account_id": banned, "ts": ban_at, "action": "ban",
                                  "reason": "abuse"})  # fmt: skip
        replacement = self.account(
            "campaign", n, created_at=ban_at + timedelta(hours=1), verified=False,
            signup_path="research-program", email_domain="mailbox-relay.net",
            payment_fingerprint=f"pm_relay_{5 % 3}", signup_ip="95.216.12.99", country="SG",
        )  # fmt: skip
        slot = 0
        t = START
        while t < START + timedelta(days=DAYS):
            live = [m for m in members if not (m == banned and t >= ban_at)]
            if t >= ban_at + timedelta(hours=2):
                live.append(replacement)
            for k in range(3):
                a = live[(slot * 3 + k) % len(live)]
                model = (
                    "atlas-4"
                    if t >= RELEASE + timedelta(hours=2) and r.random() < 0.8
                    else "atlas-3"
                )
                q = int(r.integers(1_000_000))
                self.exchange(
                    a, t + timedelta(seconds=float(r.random() * 20)),
                    conversation_id=self.conversation(), turn_index=0,
                    ip=f"95.216.{12 + (slot % 2)}.{int(r.integers(2, 250))}", asn=24940,
                    user_agent="python-httpx/0.27", tls_fingerprint="tls-httpx",
                    input_tokens=int(r.integers(150, 300)), output_tokens=int(r.integers(6000, 8000)),
                    reasoning_tokens=int(r.integers(4000, 9000)), max_tokens=32000, thinking=True,
                    model=model,
                    prompt=f"Solve problem {q} and show your complete reasoning step by step.",
                )  # fmt: skip
            slot += 1
            t += timedelta(minutes=10)

    def power_user(self) -> None:
        """One heavy individual: hundreds of exchanges a day, in a human day."""
        r = self.rng
        a = self.account("power", 0, created_at=START - timedelta(days=500), verified=True,
                         signup_path="self-serve", email_domain="outlook.com",
                         payment_fingerprint="pm_power", signup_ip="81.2.69.160", country="GB")  # fmt: skip
        for day in range(DAYS):
            for k in range(220):
                ts = START + timedelta(days=day, hours=8 + 14 * k / 220 + float(r.random()) / 60)
                self.exchange(a, ts, conversation_id=self.conversation(), ip="81.2.69.160",
                              asn=2856, user_agent="openai-python/1.50", tls_fingerprint="tls-py312")  # fmt: skip

    def build(self) -> Planted:
        self.humans("user", 60, offset=-6, ip=lambda i: f"73.{i}.{i * 3 % 250}.{i + 1}",
                    asn=7922, created_days=200)  # fmt: skip
        self.humans("cgnat", 20, offset=1, ip=lambda i: f"172.56.10.{1 + i % 2}",
                    asn=21928, created_days=150)  # fmt: skip
        self.fleet()
        self.power_user()
        self.campaign()
        self.exchanges.sort(key=lambda e: (e["ts"], e["event_id"]))
        return self

    def write(self, folder: Path, shuffle_seed: int | None = None, drop: tuple[str, ...] = (),
              accounts: bool = True) -> Path:  # fmt: skip
        folder.mkdir(parents=True, exist_ok=True)
        rows = list(self.exchanges)
        if shuffle_seed is not None:
            order = np.random.default_rng(shuffle_seed).permutation(len(rows))
            rows = [rows[i] for i in order]
        table = pa.Table.from_pylist(rows)
        table = table.drop_columns([c for c in drop if c in table.column_names])
        pq.write_table(table, folder / "exchanges.parquet")
        if accounts:
            pq.write_table(pa.Table.from_pylist(self.accounts), folder / "accounts.parquet")
            if self.enforcements:
                pq.write_table(
                    pa.Table.from_pylist(self.enforcements), folder / "enforcements.parquet"
                )
        return folder


def planted() -> Planted:
    return Planted().build()
