"""The cast: every account in a data set, with its registration record and how it behaves.

Legitimate users, look-alike organizations and operators' accounts are all described by the
same behaviour fields, so one traffic generator serves them all and no field can give an
account's role away by its mere presence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# How an account's sessions are placed in the day.
HUMAN, FLAT, WORKDAY, BURST, SCHEDULER = range(5)
# What an account's prompts are.
CHAT, CODING, AGENT, APP, OSS, EVAL, VENDOR, CAMPAIGN, ROUTER = range(9)
# How an address is picked from the account's ranges.
PER_SESSION, PER_REQUEST = 0, 1

DAY_MS = 86_400_000
HOUR_MS = 3_600_000

_BEHAVIOUR: dict[str, Any] = {
    "start_ms": 0,
    "end_ms": 0,
    "sessions_per_day": 1.0,
    "active_p": 1.0,
    "weekend": 1.0,
    "rhythm": HUMAN,
    "tz": 0.0,
    "turns": 1.0,
    "gap_s": 60.0,
    "ip_lo": 0,
    "ip_hi": 0,
    "ip_mode": PER_SESSION,
    "ip2_lo": 0,
    "ip2_hi": 0,
    "ip2_p": 0.0,
    "client": 0,
    "content": CHAT,
    "frame": 0,
    "cot_p": 0.0,
    "zh_p": 0.0,
    "thinking_p": 0.1,
    "max_tokens": 4096,
    "temperature": -1.0,
    "tools": 0,
    "model_mix": 0,
    "adopt_delay": np.inf,
    "adopt_share": 0.0,
    "system": -1,
    "end_users": 0,
    "key_lo": 0,
    "key_hi": 0,
    "campaign_share": 0.0,
    "operator": -1,
    "repeats": 1,
    "out_scale": 1.0,
}
_RECORD = ("account_id", "created_ms", "email_domain", "payment_fingerprint", "signup_ip",
           "country", "signup_path", "org_name", "verified")
_LABEL = ("kind", "operator_id", "campaign_id")


@dataclass
class Cast:
    """Column lists, one entry per account; :meth:`freeze` turns them into numpy arrays."""

    columns: dict[str, list[Any]] = field(
        default_factory=lambda: {k: [] for k in (*_RECORD, *_LABEL, *_BEHAVIOUR)}
    )
    keys: list[str] = field(default_factory=list)
    systems: list[str] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.columns["account_id"])

    def add(self, **values: Any) -> int:
        """Append one account; behaviour fields not given take their defaults."""
        unknown = set(values) - set(self.columns)
        if unknown:
            raise KeyError(f"unknown cast fields {sorted(unknown)}")
        for k, col in self.columns.items():
            if k in values:
                col.append(values[k])
            elif k in _BEHAVIOUR:
                col.append(_BEHAVIOUR[k])
            else:
                col.append(None)
        return len(self) - 1

    def add_keys(self, ids: list[str]) -> tuple[int, int]:
        lo = len(self.keys)
        self.keys.extend(ids)
        return lo, len(self.keys)

    def add_system(self, text: str) -> int:
        self.systems.append(text)
        return len(self.systems) - 1

    def freeze(self) -> None:
        for k in _BEHAVIOUR:
            self.arrays[k] = np.asarray(self.columns[k])
        self.arrays["adopt_delay"] = self.arrays["adopt_delay"].astype(float)
        self.arrays["temperature"] = self.arrays["temperature"].astype(float)


def opaque_ids(rng: np.random.Generator, n: int, prefix: str, nbytes: int = 10) -> list[str]:
    """Random ids: nothing about role, order or operator can be read from them."""
    if n == 0:
        return []
    raw = rng.bytes(n * nbytes).hex()
    w = 2 * nbytes
    return [prefix + raw[i * w : (i + 1) * w] for i in range(n)]
