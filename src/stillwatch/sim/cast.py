"""The cast: every account in a data set, with its registration record and how it behaves.

Legitimate users, look-alike organizations and operators' accounts are all described by the
same behaviour fields, so one traffic generator serves them all and no field can give an
account's role away by its mere presence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

# How an account's sessions are placed in the day.
HUMAN, FLAT, WORKDAY, BURST, SCHEDULER = range(5)
# What an account's prompts are.
CHAT, CODING, AGENT, APP, OSS, EVAL, VENDOR, CAMPAIGN, ROUTER, RING = range(10)
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
    "voice": -1,  # index into Cast.voices: the account's phrasing families, -1 none
    "voice_p": 0.0,  # share of its sessions worded in that voice
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
    "operator": -1,  # operator (content CAMPAIGN) or abuse ring (content RING) index
    "group": -1,  # accounts one scheduler drives (SCHEDULER rhythm): busy in the same minutes
    "repeats": 1,
    "out_scale": 1.0,
}
_RECORD = (
    "account_id",
    "created_ms",
    "email_domain",
    "payment_fingerprint",
    "signup_ip",
    "country",
    "signup_path",
    "org_name",
    "verified",
)
_LABEL = ("kind", "operator_id", "campaign_id")


FIELDS = (*_RECORD, *_LABEL, *_BEHAVIOUR)


@dataclass
class Cast:
    """Accounts in segments: rows added one at a time, or whole blocks of numpy columns.

    :meth:`freeze` joins the segments into one numpy array per field (``arrays``), the form
    the traffic generator and the writers read.
    """

    segments: list[dict[str, Any]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    systems: list[str] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    voices: list[int] = field(default_factory=list)  # family bits of each voice
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    id_rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    _id_buffer: list[str] = field(default_factory=list)
    _rows: dict[str, list[Any]] | None = None
    _n: int = 0

    def __len__(self) -> int:
        return self._n

    def add(self, **values: Any) -> int:
        """Append one account; behaviour fields not given take their defaults."""
        unknown = set(values) - set(FIELDS)
        if unknown:
            raise KeyError(f"unknown cast fields {sorted(unknown)}")
        if self._rows is None:
            self._rows = {k: [] for k in FIELDS}
            self.segments.append(self._rows)
        for k, col in self._rows.items():
            col.append(values[k] if k in values else _BEHAVIOUR.get(k))
        self._n += 1
        return self._n - 1

    def add_block(self, n: int, **columns: Any) -> tuple[int, int]:
        """Append ``n`` accounts at once from arrays (or scalars, broadcast)."""
        unknown = set(columns) - set(FIELDS)
        if unknown:
            raise KeyError(f"unknown cast fields {sorted(unknown)}")
        block: dict[str, Any] = {}
        for k in FIELDS:
            v = columns.get(k, _BEHAVIOUR.get(k))
            if isinstance(v, np.ndarray | list):
                if len(v) != n:
                    raise ValueError(f"{k}: {len(v)} values for {n} accounts")
                block[k] = v
            else:
                block[k] = [v] * n
        self.segments.append(block)
        self._rows = None
        lo = self._n
        self._n += n
        return lo, self._n

    def new_ids(self, prefix: str, n: int, nbytes: int = 10) -> list[str]:
        """``n`` opaque ids from this cast's id stream (drawn in bulk: one account at a time
        would spend most of its time here)."""
        width = 2 * nbytes
        if len(self._id_buffer) < n:
            raw = self.id_rng.bytes(max(n, 65_536) * 16).hex()
            self._id_buffer.extend(raw[i : i + 32] for i in range(0, len(raw), 32))
        out = [prefix + h[:width] for h in self._id_buffer[-n:]] if n else []
        del self._id_buffer[len(self._id_buffer) - n :]
        return out

    def new_id(self, prefix: str, nbytes: int = 10) -> str:
        return self.new_ids(prefix, 1, nbytes)[0]

    def add_keys(self, ids: list[str]) -> tuple[int, int]:
        lo = len(self.keys)
        self.keys.extend(ids)
        return lo, len(self.keys)

    def add_voice(self, bits: int) -> int:
        """A voice (phrasing families, see ``voices``) accounts can share; -1 for none."""
        if not bits:
            return -1
        self.voices.append(int(bits))
        return len(self.voices) - 1

    def add_voices(self, bits: np.ndarray) -> np.ndarray:
        """One voice per entry of ``bits``; -1 where an account speaks no family."""
        out = np.full(len(bits), -1, dtype=np.int64)
        some = np.nonzero(bits)[0]
        out[some] = len(self.voices) + np.arange(len(some))
        self.voices.extend(bits[some].tolist())
        return out

    def add_system(self, text: str) -> int:
        self.systems.append(text)
        return len(self.systems) - 1

    def freeze(self) -> None:
        for k in FIELDS:
            parts = [
                np.asarray(seg[k], dtype=object if k in (*_RECORD, *_LABEL) else None)
                for seg in self.segments
            ]
            self.arrays[k] = np.concatenate(parts) if parts else np.zeros(0)
        for k, default in _BEHAVIOUR.items():
            self.arrays[k] = self.arrays[k].astype(
                type(default) if not isinstance(default, np.floating) else float
            )
        self.arrays["created_ms"] = self.arrays["created_ms"].astype(np.int64)
        self.arrays["verified"] = self.arrays["verified"].astype(bool)
        self.segments = []
        self._rows = None


def opaque_ids(rng: np.random.Generator, n: int, prefix: str, nbytes: int = 10) -> list[str]:
    """Random ids: nothing about role, order or operator can be read from them."""
    if n == 0:
        return []
    raw = rng.bytes(n * nbytes).hex()
    w = 2 * nbytes
    return [prefix + raw[i * w : (i + 1) * w] for i in range(n)]


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
# two hex characters per byte value, as one uint16 in memory order
_HEX2 = np.frombuffer(b"".join(f"{i:02x}".encode() for i in range(256)), dtype=np.uint16)


def hex_strings(raw: np.ndarray, prefix: str = "") -> pa.StringArray:
    """Rows of bytes (an ``(n, k)`` uint8 array) as ``prefix`` + hex strings, without a Python loop."""
    n, k = raw.shape
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    width = len(head) + 2 * k
    out = np.empty((n, width), dtype=np.uint8)
    out[:, : len(head)] = head
    out[:, len(head) :] = _HEX2[raw].view(np.uint8).reshape(n, 2 * k)
    offsets = np.arange(
        0, (n + 1) * width, width, dtype=np.int32 if n * width < 2**31 else np.int64
    )
    if offsets.dtype == np.int64:
        return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out)).cast(
            pa.string()
        )
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out))


def opaque_id_array(
    rng: np.random.Generator, n: int, prefix: str, nbytes: int = 10
) -> pa.StringArray:
    """:func:`opaque_ids` as an Arrow array, for the millions of ids of a large data set."""
    raw = np.frombuffer(rng.bytes(n * nbytes), dtype=np.uint8).reshape(n, nbytes)
    return hex_strings(raw, prefix)


def pick(rng: np.random.Generator, values: Any, p: Any = None) -> Any:
    """One value drawn from a short list (weights ``p``): a fast scalar ``rng.choice``."""
    if p is None:
        return values[int(rng.random() * len(values))]
    u = rng.random() * float(sum(p))
    acc = 0.0
    for v, w in zip(values, p, strict=True):
        acc += float(w)
        if u < acc:
            return v
    return values[len(values) - 1]
