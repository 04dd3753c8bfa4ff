"""Exchanges, one day at a time: sessions placed in time, turned into rows, sorted by time.

Memory is bounded by one day of traffic: sessions that run past midnight are carried into the
next day's batch so that rows leave in time order. Ties within a millisecond are broken at
random, so row order says nothing but time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from stillwatch.schema import EXCHANGES, LABELS_EXCHANGES
from stillwatch.sim import clients
from stillwatch.sim.cast import (
    AGENT,
    APP,
    BURST,
    CAMPAIGN,
    CHAT,
    CODING,
    DAY_MS,
    EVAL,
    OSS,
    PER_REQUEST,
    ROUTER,
    SCHEDULER,
    VENDOR,
    Cast,
    opaque_ids,
)
from stillwatch.sim.network import AddressBook
from stillwatch.sim.rhythm import is_weekend, session_starts
from stillwatch.sim.sessions import SessionWriter
from stillwatch.sim.writer import arrow_schema

MODELS = ("atlas-3-mini", "atlas-3", "atlas-3-pro")
NEW_MODEL = "atlas-4"
MODEL_MIX = np.array([[0.3, 0.55, 0.15], [0.05, 0.45, 0.5], [0.75, 0.25, 0.0]])
# median output tokens by content kind
OUTPUT_MEDIAN = {CHAT: 350, CODING: 550, AGENT: 300, APP: 250, EVAL: 420, OSS: 200,
                 VENDOR: 900, CAMPAIGN: 650, ROUTER: 350}
RETRY_TEMPERATURES = np.array([0.0, 0.2, 0.5, 0.8, 1.0])
STATUS = np.array(["ok", "rate_limited", "overloaded", "invalid_request"], dtype=object)
STATUS_P = np.array([0.975, 0.015, 0.005, 0.005])
_LABEL = "__campaign_id"  # travels with the rows through sorting; written to the labels only


@dataclass
class Traffic:
    rng: np.random.Generator
    cast: Cast
    book: AddressBook
    writer: SessionWriter
    t0: int
    days: int
    release_ms: int | None
    keep_text: float = 1.0
    slots_per_day: int = 240
    sessions_seen: np.ndarray = field(init=False)
    _carry: pa.Table | None = None

    def __post_init__(self) -> None:
        self.sessions_seen = np.zeros(len(self.cast), dtype=np.int64)
        ips, asn, country, _ = self.book.arrays()
        self._ips, self._asn, self._country = ips, asn, country
        self._account = np.array(self.cast.columns["account_id"], dtype=object)
        self._keys = np.array(self.cast.keys, dtype=object)
        self._systems = np.array([*self.cast.systems, None], dtype=object)
        self._schema = arrow_schema(EXCHANGES)
        self._label_schema = arrow_schema(LABELS_EXCHANGES)
        self._campaign = np.array(self.cast.columns["campaign_id"], dtype=object)
        endpoint = []
        for ua in clients.USER_AGENTS:
            endpoint.append("chat.completions" if "OpenAI" in ua or "litellm" in ua else "messages")
        self._endpoint = np.array(endpoint, dtype=object)

    @property
    def t_end(self) -> int:
        return self.t0 + self.days * DAY_MS

    # ---- sessions ------------------------------------------------------------------------
    def _sessions(self, d: int) -> tuple[np.ndarray, np.ndarray]:
        """Accounts and start times of the sessions that begin on day ``d``."""
        a, r = self.cast.arrays, self.rng
        ds, de = self.t0 + d * DAY_MS, self.t0 + (d + 1) * DAY_MS
        idx = np.nonzero((a["start_ms"] < de) & (a["end_ms"] > ds))[0]
        lo = np.maximum(a["start_ms"][idx], ds)
        hi = np.minimum(a["end_ms"][idx], de)
        overlap = (hi - lo) / DAY_MS
        lam = a["sessions_per_day"][idx] * overlap * (r.random(len(idx)) < a["active_p"][idx])
        if is_weekend(d):
            lam = lam * a["weekend"][idx]
        n = r.poisson(lam)
        last_day = (np.minimum(a["end_ms"][idx], self.t_end) - 1 - self.t0) // DAY_MS == d
        force = last_day & (self.sessions_seen[idx] == 0) & (n == 0)
        n[force] = 1
        self.sessions_seen[idx] += n
        acct = np.repeat(idx, n)
        rhythm = a["rhythm"][acct]
        burst_at = np.repeat(r.uniform(8, 20, len(idx)), n)
        slots = np.full(len(acct), -1, dtype=np.int64)
        sched = rhythm == SCHEDULER
        if sched.any():
            for op in np.unique(a["operator"][acct[sched]]):
                minutes = r.choice(1440, size=self.slots_per_day, replace=False)
                mine = sched & (a["operator"][acct] == op)
                slots[mine] = minutes[r.integers(0, len(minutes), int(mine.sum()))]
        starts = session_starts(r, ds, rhythm, a["tz"][acct], burst_at, slots)
        forced = np.repeat(force, n)
        if forced.any():
            f_lo, f_hi = np.repeat(lo, n)[forced], np.repeat(hi, n)[forced]
            starts[forced] = f_lo + (r.random(int(forced.sum())) * (f_hi - f_lo)).astype(np.int64)
        order = np.argsort(starts, kind="stable")
        return acct[order], starts[order]

    # ---- rows ----------------------------------------------------------------------------
    def _day_rows(self, d: int) -> pa.Table:
        a, r = self.cast.arrays, self.rng
        acct_s, start_s = self._sessions(d)
        n_s = len(acct_s)
        prompts: list[str] = []
        turn_counts = np.zeros(n_s, dtype=np.int64)
        answer_chars: list[int] = []
        camp_s = np.zeros(n_s, dtype=bool)
        retry_s = np.zeros(n_s, dtype=bool)
        content, frame, turns = a["content"], a["frame"], a["turns"]
        cot, zh, rep, share, oper = a["cot_p"], a["zh_p"], a["repeats"], a["campaign_share"], a["operator"]
        for i, ac in enumerate(acct_s.tolist()):
            st = self.writer.session(int(content[ac]), int(frame[ac]), float(turns[ac]), float(cot[ac]),
                                     float(zh[ac]), int(rep[ac]), float(share[ac]), int(oper[ac]))
            k = len(st.prompts)
            turn_counts[i] = k
            prompts.extend(st.prompts)
            answer_chars.extend(st.answers[:k] + [-1] * (k - len(st.answers[:k])))
            camp_s[i] = st.campaign
            retry_s[i] = st.retries
        n = len(prompts)
        sess = np.repeat(np.arange(n_s), turn_counts)
        acct = acct_s[sess]
        first_row = np.cumsum(turn_counts) - turn_counts
        turn_index = np.arange(n) - first_row[sess]
        retry = retry_s[sess]
        # time between turns: reading the answer, thinking, typing (or a tool running)
        gaps = r.exponential(a["gap_s"][acct]) * 1000 + 3000
        gaps[retry] = r.uniform(500, 8000, int(retry.sum()))
        gaps[turn_index == 0] = 0
        cum = np.cumsum(gaps)
        ts = start_s[sess] + (cum - cum[first_row[sess]]).astype(np.int64)
        keep = (ts < a["end_ms"][acct]) & (ts < self.t_end) & (ts >= a["start_ms"][acct])
        cols = self._columns(acct, sess, first_row, turn_index, retry, ts, prompts,
                             np.asarray(answer_chars, dtype=np.int64), n_s)
        campaign = np.where(camp_s[sess], self._campaign[acct], None)
        table = pa.table(cols, schema=self._schema).append_column(
            _LABEL, pa.array(campaign, type=pa.string())
        )
        return table.filter(pa.array(keep))

    def _columns(self, acct: np.ndarray, sess: np.ndarray, first_row: np.ndarray,
                 turn_index: np.ndarray, retry: np.ndarray, ts: np.ndarray, prompts: list[str],
                 answer_chars: np.ndarray, n_s: int) -> dict[str, object]:
        a, r = self.cast.arrays, self.rng
        n = len(acct)
        # per-session choices, broadcast to the session's rows
        sess_acct = np.zeros(n_s, dtype=np.int64)
        sess_acct[sess] = acct
        key_span = a["key_hi"][sess_acct] - a["key_lo"][sess_acct]
        key = a["key_lo"][sess_acct] + (r.random(n_s) * np.maximum(key_span, 1)).astype(np.int64)
        second = r.random(n_s) < a["ip2_p"][sess_acct]
        lo = np.where(second, a["ip2_lo"][sess_acct], a["ip_lo"][sess_acct])
        hi = np.where(second, a["ip2_hi"][sess_acct], a["ip_hi"][sess_acct])
        ip_sess = lo + (r.random(n_s) * np.maximum(hi - lo, 1)).astype(np.int64)
        ip = ip_sess[sess]
        per_req = (a["ip_mode"][acct] == PER_REQUEST) & ~second[sess]
        if per_req.any():
            rl, rh = a["ip_lo"][acct][per_req], a["ip_hi"][acct][per_req]
            ip[per_req] = rl + (r.random(int(per_req.sum())) * np.maximum(rh - rl, 1)).astype(np.int64)
        conv_ids = np.array(opaque_ids(r, n_s, "conv_", 8), dtype=object)
        conv = conv_ids[sess]
        if retry.any():  # each retry is its own request
            conv[retry] = np.array(opaque_ids(r, int(retry.sum()), "conv_", 8), dtype=object)
        users = a["end_users"][sess_acct]
        end_user = np.full(n_s, None, dtype=object)
        has_users = np.nonzero(users > 0)[0]
        if len(has_users):
            # a few regulars and a long tail of occasional end users
            num = np.minimum((r.pareto(1.2, len(has_users)) * 3).astype(np.int64), users[has_users] - 1)
            acc_ids = self._account[sess_acct[has_users]]
            end_user[has_users] = [
                hashlib.blake2b(f"{x}:{u}".encode(), digest_size=8).hexdigest()
                for x, u in zip(acc_ids.tolist(), num.tolist(), strict=True)
            ]
        # model: the account's mix, moved to a new release once the account adopts it
        mix = MODEL_MIX[a["model_mix"][acct]]
        u = r.random(n)
        model_i = (u[:, None] > np.cumsum(mix, axis=1)).sum(axis=1)
        model = np.array(MODELS, dtype=object)[np.minimum(model_i, 2)]
        if self.release_ms is not None:
            adopted = ts >= self.release_ms + a["adopt_delay"][acct] * DAY_MS
            moved = adopted & (r.random(n) < a["adopt_share"][acct])
            model[moved] = NEW_MODEL
        # text, hashes, token counts
        keep_text = r.random(n_s)[sess] < self.keep_text
        encoded = [p.encode("utf-8") for p in prompts]
        sha = [hashlib.sha256(b).hexdigest() for b in encoded]
        p_tok = np.fromiter((len(b) // 4 + 1 for b in encoded), dtype=np.int64, count=n)
        system = self._systems[a["system"][acct]]
        sys_tok = np.fromiter((0 if s is None else len(s) // 4 for s in system), dtype=np.int64, count=n)
        med = np.vectorize(OUTPUT_MEDIAN.get, otypes=[float])(a["content"][acct]) * a["out_scale"][acct]
        out_tok = r.lognormal(np.log(med), 0.8)
        known = answer_chars >= 0
        out_tok[known] = answer_chars[known] / 4 * r.lognormal(0, 0.15, int(known.sum())) + 5
        max_tokens = a["max_tokens"][acct]
        out_tok = np.minimum(out_tok.astype(np.int64) + 1, max_tokens)
        # history: earlier turns and answers are billed again as input
        before = np.cumsum(p_tok + out_tok) - (p_tok + out_tok)
        history = np.where(retry, 0, before - before[first_row[sess]]) if n else before
        in_tok = p_tok + sys_tok + history + a["tools"][acct] * 90
        thinking = r.random(n) < a["thinking_p"][acct]
        reasoning = np.where(thinking, r.lognormal(np.log(900), 0.9, n).astype(np.int64), 0)
        temp = a["temperature"][acct].copy()
        if retry.any():
            temp[retry] = RETRY_TEMPERATURES[turn_index[retry] % len(RETRY_TEMPERATURES)]
        temperature = np.where(temp < 0, np.nan, temp)
        status = STATUS[r.choice(len(STATUS), size=n, p=STATUS_P)]
        ok = status == "ok"
        latency = (350 + out_tok * 14 + reasoning * 9) * r.lognormal(0, 0.25, n)
        client = a["client"][acct]
        return {
            "event_id": opaque_ids(r, n, "req_", 12),
            "ts": pa.array(ts, type=pa.timestamp("ms", tz="UTC")),
            "account_id": self._account[acct],
            "api_key_id": self._keys[key[sess]] if len(self._keys) else None,
            "end_user_id": end_user[sess],
            "conversation_id": conv,
            "turn_index": np.where(retry, 0, turn_index),
            "ip": self._ips[ip],
            "ip_hash": pa.nulls(n, pa.string()),
            "asn": self._asn[ip],
            "ip_country": self._country[ip],
            "user_agent": clients.USER_AGENTS[client],
            "tls_fingerprint": clients.TLS_FINGERPRINTS[client],
            "model": model,
            "endpoint": self._endpoint[client],
            "system_prompt": np.where(keep_text, system, None),
            "prompt": np.where(keep_text, np.array(prompts, dtype=object), None),
            "prompt_sha256": sha,
            "response": pa.nulls(n, pa.string()),
            "input_tokens": in_tok,
            "output_tokens": np.where(ok, out_tok, 0),
            "reasoning_tokens": np.where(ok, reasoning, 0),
            "max_tokens": max_tokens,
            "temperature": pa.array(temperature, from_pandas=True),
            "tools_count": a["tools"][acct],
            "thinking": thinking,
            "status": status,
            "latency_ms": np.where(ok, latency, latency * 0.05).astype(np.int64),
        }

    def batches(self) -> Iterator[tuple[pa.Table, pa.Table]]:
        """Exchanges and their labels in time order, one batch per simulated day."""
        carry: pa.Table | None = None
        for d in range(self.days):
            table = self._day_rows(d)
            if carry is not None:
                table = pa.concat_tables([carry, table])
            ts = table.column("ts").cast(pa.int64()).to_numpy()
            order = np.lexsort((self.rng.random(len(ts)), ts))
            table = table.take(pa.array(order))
            cutoff = self.t0 + (d + 1) * DAY_MS
            split = len(order) if d == self.days - 1 else int(np.searchsorted(ts[order], cutoff))
            out, carry = table.slice(0, split), table.slice(split)
            label = out.column(_LABEL)
            labelled = out.filter(pc.is_valid(label))
            labels = pa.table(
                [labelled.column("event_id"), labelled.column(_LABEL)], schema=self._label_schema
            )
            yield out.drop_columns([_LABEL]), labels
