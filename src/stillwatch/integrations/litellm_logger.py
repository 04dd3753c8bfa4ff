"""A LiteLLM custom logger that hands every call the LiteLLM proxy (or SDK) makes to stillwatch:
either as canonical rows in rotating Parquet files that ``stillwatch ingest FOLDER`` reads, or
as batches posted to ``POST /api/v1/exchanges`` of a running ``stillwatch serve``.

Install with ``pip install 'stillwatch[litellm]'`` and add to the proxy's ``config.yaml``::

    litellm_settings:
      callbacks: stillwatch.integrations.litellm_logger.proxy_handler_instance

configured by environment variables: ``STILLWATCH_LITELLM_OUT`` (a folder: Parquet mode) or
``STILLWATCH_LITELLM_URL`` and ``STILLWATCH_LITELLM_TOKEN`` (an analyst's API token: post
mode); optionally ``STILLWATCH_LITELLM_ROTATE_ROWS`` (default 50,000),
``STILLWATCH_LITELLM_ROTATE_SECONDS`` (300) and ``STILLWATCH_LITELLM_ACCOUNT_FROM`` (as the
``litellm_account_from`` setting: ``team,user,key``).

What it reads: LiteLLM's ``StandardLoggingPayload`` (``kwargs["standard_logging_object"]``),
the same object the ``litellm`` dialect adapter maps (docs/formats.md). A call without one (an
old LiteLLM) is counted in ``missing``. Known gaps: the payload carries no TLS fingerprint,
and the client address only where the proxy records ``requester_ip_address``.

Failures never reach LiteLLM's caller: a batch the server refuses (503 while busy, a network
error) is kept and sent with the next one, up to ``max_buffer`` payloads; beyond that the
oldest are dropped and counted in ``dropped``.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from stillwatch.ingest.dialects import adapter
from stillwatch.schema import EXCHANGES

if TYPE_CHECKING:
    _Base = object
else:  # LiteLLM's documented base class where installed; the methods are the same names
    try:
        from litellm.integrations.custom_logger import CustomLogger as _Base
    except ImportError:  # pragma: no cover - exercised where LiteLLM is absent
        _Base = object

_TYPES = {
    "string": pa.string(),
    "ip": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us"),
}
SCHEMA = pa.schema([(c.name, _TYPES[c.kind]) for c in EXCHANGES.columns])


def _moment(text: str) -> datetime:
    parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    return (parsed.astimezone(UTC) if parsed.tzinfo else parsed).replace(tzinfo=None)


def _plain(value: Any) -> Any:
    """The payload as plain JSON values (it may hold datetimes and pydantic objects)."""
    return json.loads(json.dumps(value, default=str))


class StillwatchLogger(_Base):  # type: ignore[misc,valid-type,unused-ignore]
    """LiteLLM ``CustomLogger``: every success and failure event, sync or async."""

    def __init__(
        self,
        *,
        out_dir: str | Path | None = None,
        url: str | None = None,
        token: str | None = None,
        rotate_rows: int = 50_000,
        rotate_seconds: float = 300.0,
        account_from: str | None = None,
        max_buffer: int = 200_000,
        timeout: float = 10.0,
    ) -> None:
        if (out_dir is None) == (url is None):
            raise ValueError("StillwatchLogger: give out_dir (Parquet files) or url (post)")
        if url is not None and not token:
            raise ValueError("StillwatchLogger: posting to stillwatch needs an API token")
        if _Base is not object:
            super().__init__()
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.url = url.rstrip("/") if url else None
        self.token = token
        self.rotate_rows, self.rotate_seconds = rotate_rows, rotate_seconds
        self.max_buffer, self.timeout = max_buffer, timeout
        self.adapter = adapter("litellm", {"litellm_account_from": account_from})
        self.counts = {"events": 0, "missing": 0, "rows": 0, "quarantined": 0, "sent": 0,
                       "dropped": 0, "files": 0, "failed_flushes": 0}  # fmt: skip
        self._buffer: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._last_flush = time.monotonic()
        self._seq = 0
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> StillwatchLogger:
        env = dict(os.environ if env is None else env)
        return cls(
            out_dir=env.get("STILLWATCH_LITELLM_OUT") or None,
            url=env.get("STILLWATCH_LITELLM_URL") or None,
            token=env.get("STILLWATCH_LITELLM_TOKEN") or None,
            rotate_rows=int(env.get("STILLWATCH_LITELLM_ROTATE_ROWS", "50000")),
            rotate_seconds=float(env.get("STILLWATCH_LITELLM_ROTATE_SECONDS", "300")),
            account_from=env.get("STILLWATCH_LITELLM_ACCOUNT_FROM") or None,
        )

    # -- LiteLLM's CustomLogger methods ------------------------------------------------------
    def log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:  # fmt: skip
        self.take(kwargs)

    def log_failure_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:  # fmt: skip
        self.take(kwargs)

    async def async_log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:  # fmt: skip
        self.take(kwargs)

    async def async_log_failure_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:  # fmt: skip
        self.take(kwargs)

    # -- buffering ---------------------------------------------------------------------------
    def take(self, kwargs: Any) -> None:
        """Keep one call's payload; write or send the buffer when it is due (in a thread, so
        the proxy's request is never held up by it)."""
        payload = kwargs.get("standard_logging_object") if isinstance(kwargs, dict) else None
        with self._lock:
            self.counts["events"] += 1
            if not isinstance(payload, dict):
                self.counts["missing"] += 1
                return
            self._buffer.append(_plain(payload))
            if len(self._buffer) > self.max_buffer:
                over = len(self._buffer) - self.max_buffer
                del self._buffer[:over]
                self.counts["dropped"] += over
            due = len(self._buffer) >= self.rotate_rows or (
                time.monotonic() - self._last_flush >= self.rotate_seconds
            )
        if due and not self._flushing.locked():
            threading.Thread(target=self.flush, name="stillwatch-litellm", daemon=True).start()

    def flush(self) -> int:
        """Write (or send) what is buffered now; returns how many payloads went."""
        with self._flushing:
            with self._lock:
                batch, self._buffer = self._buffer, []
                self._last_flush = time.monotonic()
            if not batch:
                return 0
            try:
                if self.out_dir is not None:
                    self._write(batch)
                else:
                    self._post(batch)
            except urllib.error.HTTPError as exc:
                if exc.code not in (408, 429) and exc.code < 500:  # refused for good
                    self.counts["failed_flushes"] += 1
                    self.counts["dropped"] += len(batch)
                    return 0
                self._keep(batch)
                return 0
            except (OSError, ValueError):  # the server down or busy, the disk full: later
                self._keep(batch)
                return 0
            self.counts["sent"] += len(batch)
            return len(batch)

    def _keep(self, batch: list[dict[str, Any]]) -> None:
        self.counts["failed_flushes"] += 1
        with self._lock:  # kept for the next flush, oldest first
            self._buffer[:0] = batch
            over = len(self._buffer) - self.max_buffer
            if over > 0:
                del self._buffer[:over]
                self.counts["dropped"] += over

    def close(self) -> None:
        self.flush()

    # -- the two outputs ---------------------------------------------------------------------
    def _write(self, batch: list[dict[str, Any]]) -> None:
        """Canonical rows into a new Parquet file (written aside, then renamed into place, so
        ``stillwatch ingest`` never reads half a file); what the adapter cannot map goes to a
        JSON Lines file of the same name with its reason."""
        assert self.out_dir is not None
        rows: list[dict[str, Any]] = []
        bad: list[dict[str, Any]] = []
        for payload in batch:
            mapped = self.adapter.map(payload)
            rows += mapped.exchanges
            bad += [
                {"reason": q.reason, "id": payload.get("id"), "record": payload}
                for q in mapped.quarantined
            ]
        self._seq += 1
        stem = f"exchanges-{datetime.now(UTC):%Y%m%dT%H%M%S}-{os.getpid()}-{self._seq:05d}"
        if rows:
            for row in rows:
                row["ts"] = _moment(row["ts"])
            table = pa.Table.from_pylist(rows, schema=SCHEMA)
            aside = self.out_dir / f".{stem}.parquet.tmp"
            pq.write_table(table, aside)
            aside.replace(self.out_dir / f"{stem}.parquet")
            self.counts["files"] += 1
        if bad:
            with open(self.out_dir / f"{stem}.quarantined.txt", "w", encoding="utf-8") as fh:
                fh.writelines(json.dumps(b, ensure_ascii=False) + "\n" for b in bad)
        self.counts["rows"] += len(rows)
        self.counts["quarantined"] += len(bad)

    def _post(self, batch: list[dict[str, Any]]) -> None:
        assert self.url is not None
        request = urllib.request.Request(
            self.url + "/api/v1/exchanges?source=litellm",
            data="".join(json.dumps(p, ensure_ascii=False) + "\n" for p in batch).encode(),
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/x-ndjson",
            },
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as answer:
            result = json.loads(answer.read())
        self.counts["rows"] += int(result.get("accepted", 0)) + int(result.get("duplicates", 0))
        self.counts["quarantined"] += int(result.get("quarantined", 0))


def __getattr__(name: str) -> Any:
    """``proxy_handler_instance``, made from the environment when LiteLLM's proxy asks."""
    if name == "proxy_handler_instance":
        instance = StillwatchLogger.from_env()
        globals()[name] = instance
        return instance
    raise AttributeError(name)
