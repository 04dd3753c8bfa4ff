"""Exchanges, one day at a time: sessions placed in time, turned into rows, sorted by time.

Memory is bounded by one day of traffic: sessions that run past midnight are carried into the
next day's batch so that rows leave in time order. Ties within a millisecond are broken at
random, so row order says nothing but time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from stillwatch.schema import EXCHANGES, LABELS_EXCHANGES
from stillwatch.sim import clients
from stillwatch.sim.cast import (
    AGENT,
    APP,
    CAMPAIGN,
    CHAT,
    CODING,
    DAY_MS,
    EVAL,
    OSS,
    PER_REQUEST,
    RING,
    ROUTER,
    SCHEDULER,
    VENDOR,
    Cast,
    hex_strings,
    opaque_id_array,
)
from stillwatch.sim.network import AddressBook
from stillwatch.sim.rhythm import is_weekend, session_starts
from stillwatch.sim.sessions import SessionWriter
from stillwatch.sim.sketch import Sketcher
from stillwatch.sim.writer import arrow_schema


@dataclass
class _Pick:
    """A string column still as (values, row index): materialized once, after sorting."""

    values: pa.Array
    index: np.ndarray


@dataclass
class _Rows:
    """Row-level arrays of one day's batch, before they become columns."""

    acct: np.ndarray
    sess: np.ndarray
    first_row: np.ndarray
    turn_index: np.ndarray
    retry: np.ndarray
    ts: np.ndarray
    tokens: np.ndarray
    answers: np.ndarray
    text_rows: np.ndarray
    n_s: int


MODELS = ("atlas-3-mini", "atlas-3", "atlas-3-pro")
NEW_MODEL = "atlas-4"
MODEL_MIX = np.array([[0.3, 0.55, 0.15], [0.05, 0.45, 0.5], [0.75, 0.25, 0.0]])
# median output tokens by content kind
OUTPUT_MEDIAN = {
    CHAT: 350,
    CODING: 550,
    AGENT: 300,
    APP: 250,
    EVAL: 420,
    OSS: 200,
    VENDOR: 900,
    CAMPAIGN: 650,
    ROUTER: 350,
    RING: 300,
}
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
    sketcher: Sketcher | None = None
    chunks_per_day: int = 1
    slots_per_day: int = 240
    sessions_seen: np.ndarray = field(init=False)
    _carry: pa.Table | None = None

    def __post_init__(self) -> None:
        self.sessions_seen = np.zeros(len(self.cast), dtype=np.int64)
        self.accounts_seen = np.zeros(len(self.cast), dtype=bool)
        ips, asn, country, _ = self.book.arrays()
        # value tables: rows pick from them by index, so strings are copied by Arrow, not Python
        self._ips, self._asn, self._country = (
            pa.array(ips, pa.string()),
            asn,
            pa.array(country, pa.string()),
        )
        self._account = self.cast.arrays["account_id"]
        self._account_pa = pa.array(self._account, pa.string())
        self._keys = pa.array(self.cast.keys, pa.string())
        self._systems = pa.array([*self.cast.systems, None], pa.string())
        self._system_tokens = np.array(
            [len(t) // 4 for t in self.cast.systems] + [0], dtype=np.int64
        )
        self._schema = arrow_schema(EXCHANGES)
        self._label_schema = arrow_schema(LABELS_EXCHANGES)
        self._label_schema_full = self._schema.append(pa.field(_LABEL, pa.string()))
        self._types = {f.name: f.type for f in self._schema}
        self._campaign_pa = pa.array([*self.cast.arrays["campaign_id"].tolist(), None], pa.string())
        self._user_agents = pa.array(clients.USER_AGENTS, pa.string())
        self._tls = pa.array(clients.TLS_FINGERPRINTS, pa.string())
        self._endpoint = pa.array(
            [
                "chat.completions" if "OpenAI" in ua or "litellm" in ua else "messages"
                for ua in clients.USER_AGENTS
            ],
            pa.string(),
        )
        self._models = pa.array([*MODELS, NEW_MODEL], pa.string())
        self._status = pa.array(STATUS, pa.string())
        self._output_median = np.array(
            [OUTPUT_MEDIAN[k] for k in range(len(OUTPUT_MEDIAN))], dtype=float
        )

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
            group = a["group"][acct]
            for g in np.unique(group[sched]):
                minutes = r.choice(1440, size=self.slots_per_day, replace=False)
                mine = sched & (group == g)
                slots[mine] = minutes[r.integers(0, len(minutes), int(mine.sum()))]
        starts = session_starts(r, ds, rhythm, a["tz"][acct], burst_at, slots)
        forced = np.repeat(force, n)
        if forced.any():
            f_lo, f_hi = np.repeat(lo, n)[forced], np.repeat(hi, n)[forced]
            starts[forced] = f_lo + (r.random(int(forced.sum())) * (f_hi - f_lo)).astype(np.int64)
        order = np.argsort(starts, kind="stable")
        return acct[order], starts[order]

    # ---- rows ----------------------------------------------------------------------------
    def _text_sessions(self, acct_s: np.ndarray) -> dict[str, Any]:
        """Sessions whose prompt text is written out (all of them below large scale)."""
        a = self.cast.arrays
        n_s = len(acct_s)
        prompts: list[str] = []
        answer_chars: list[int] = []
        turns = np.zeros(n_s, dtype=np.int64)
        camp = np.zeros(n_s, dtype=bool)
        retry = np.zeros(n_s, dtype=bool)
        content, frame, mean_turns = a["content"], a["frame"], a["turns"]
        zh, rep, share, oper, voice, voice_p = (
            a["zh_p"],
            a["repeats"],
            a["campaign_share"],
            a["operator"],
            a["voice"],
            a["voice_p"],
        )
        for i, ac in enumerate(acct_s.tolist()):
            st = self.writer.session(
                ac,
                int(content[ac]),
                int(frame[ac]),
                float(mean_turns[ac]),
                float(zh[ac]),
                int(rep[ac]),
                float(share[ac]),
                int(oper[ac]),
                int(voice[ac]),
                float(voice_p[ac]),
            )
            k = len(st.prompts)
            turns[i] = k
            prompts.extend(st.prompts)
            answer_chars.extend(st.answers[:k] + [-1] * (k - len(st.answers[:k])))
            camp[i] = st.campaign
            retry[i] = st.retries
        encoded = [p.encode("utf-8") for p in prompts]
        return {
            "turns": turns,
            "campaign": camp,
            "retry": retry,
            "prompt": pa.array(prompts, type=pa.string()),
            "sha": pa.array([hashlib.sha256(b).hexdigest() for b in encoded], type=pa.string()),
            "tokens": np.fromiter(
                (len(b) // 4 + 1 for b in encoded), dtype=np.int64, count=len(encoded)
            ),
            "answers": np.asarray(answer_chars, dtype=np.int64),
        }

    def _sketched_sessions(self, acct_s: np.ndarray) -> dict[str, Any]:
        """Sessions whose text is not kept: identities and lengths only (see ``sketch``)."""
        assert self.sketcher is not None
        sk = self.sketcher.sessions(acct_s, self.cast.arrays)
        n = len(sk.tokens)
        return {
            "turns": sk.turns,
            "campaign": sk.campaign,
            "retry": sk.retry,
            "prompt": pa.nulls(n, pa.string()),
            "sha": hex_strings(sk.digest),
            "tokens": sk.tokens,
            "answers": np.full(n, -1, dtype=np.int64),
        }

    def _chunk_rows(self, acct_all: np.ndarray, start_all: np.ndarray) -> pa.Table:
        """Rows of the given sessions, sorted by time, with the campaign label column."""
        a, r = self.cast.arrays, self.rng
        with_text = (
            (r.random(len(acct_all)) < self.keep_text)
            if self.keep_text < 1
            else np.ones(len(acct_all), bool)
        )
        parts = [self._text_sessions(acct_all[with_text])]
        if self.sketcher is not None and not with_text.all():
            parts.append(self._sketched_sessions(acct_all[~with_text]))
        acct_s = np.concatenate([acct_all[with_text], acct_all[~with_text]])
        start_s = np.concatenate([start_all[with_text], start_all[~with_text]])
        cat = {
            k: np.concatenate([p[k] for p in parts])
            for k in ("turns", "campaign", "retry", "tokens", "answers")
        }
        text_rows = np.concatenate([np.full(len(p["tokens"]), i == 0) for i, p in enumerate(parts)])
        prompt = pa.concat_arrays([p["prompt"] for p in parts])
        sha = pa.concat_arrays([p["sha"] for p in parts])
        turn_counts = cat["turns"]
        n_s, n = len(acct_s), int(turn_counts.sum())
        sess = np.repeat(np.arange(n_s), turn_counts)
        acct = acct_s[sess]
        first_row = np.cumsum(turn_counts) - turn_counts
        turn_index = np.arange(n) - first_row[sess]
        retry = cat["retry"][sess]
        # time between turns: reading the answer, thinking, typing (or a tool running)
        gaps = r.exponential(a["gap_s"][acct]) * 1000 + 3000
        gaps[retry] = r.uniform(500, 8000, int(retry.sum()))
        gaps[turn_index == 0] = 0
        cum = np.cumsum(gaps)
        ts = start_s[sess] + (cum - cum[first_row[sess]]).astype(np.int64)
        keep = (ts < a["end_ms"][acct]) & (ts < self.t_end) & (ts >= a["start_ms"][acct])
        # drop rows outside their account's life before any column is built
        kept = np.nonzero(keep)[0]
        sess = sess[kept]
        first_of = np.zeros(n_s, dtype=np.int64)
        starts_here = np.flatnonzero(np.r_[True, sess[1:] != sess[:-1]]) if len(sess) else sess
        first_of[sess[starts_here]] = starts_here  # rows stay grouped by session
        rows = _Rows(
            acct[kept],
            sess,
            first_of,
            turn_index[kept],
            retry[kept],
            ts[kept],
            cat["tokens"][kept],
            cat["answers"][kept],
            text_rows[kept],
            n_s,
        )
        self.accounts_seen[rows.acct] = True
        cols = self._columns(rows)
        cols["prompt"] = _Pick(prompt, kept)
        cols["prompt_sha256"] = _Pick(sha, kept)
        cols[_LABEL] = _Pick(
            self._campaign_pa,
            np.where(cat["campaign"][sess], rows.acct, len(self._campaign_pa) - 1),
        )
        # sort by time here, on index arrays: Arrow then copies each string once, in order
        # ties within a millisecond are broken at random (10 random low bits under the time)
        order = np.argsort(rows.ts * 1024 + r.integers(0, 1024, len(rows.ts)), kind="stable")
        out = {}
        for name in (*EXCHANGES.names, _LABEL):
            col = cols[name]
            if isinstance(col, _Pick):
                out[name] = col.values.take(pa.array(col.index[order]))
            elif isinstance(col, np.ndarray):
                v = col[order]
                mask = np.isnan(v) if v.dtype.kind == "f" else None
                out[name] = pa.array(v, type=self._types[name], mask=mask)
            elif name == "event_id":
                out[name] = opaque_id_array(r, len(order), "req_", 12)
            else:
                out[name] = col
        return pa.table(out, schema=self._label_schema_full)

    def _columns(self, rows: _Rows) -> dict[str, Any]:
        a, r = self.cast.arrays, self.rng
        acct, sess, n_s = rows.acct, rows.sess, rows.n_s
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
            ip[per_req] = rl + (r.random(int(per_req.sum())) * np.maximum(rh - rl, 1)).astype(
                np.int64
            )
        retry = rows.retry
        n_retry = int(retry.sum())
        conv_ids = opaque_id_array(r, n_s + n_retry, "conv_", 8)
        conv_idx = sess.copy()
        conv_idx[retry] = n_s + np.arange(n_retry)  # each retry is its own request
        users = a["end_users"][sess_acct]
        end_user = np.full(n_s, None, dtype=object)
        has_users = np.nonzero(users > 0)[0]
        if len(has_users):
            # a few regulars and a long tail of occasional end users
            num = np.minimum(
                (r.pareto(1.2, len(has_users)) * 3).astype(np.int64), users[has_users] - 1
            )
            acc_ids = self._account[sess_acct[has_users]]
            end_user[has_users] = [
                hashlib.blake2b(f"{x}:{u}".encode(), digest_size=8).hexdigest()
                for x, u in zip(acc_ids.tolist(), num.tolist(), strict=True)
            ]
        # model: the account's mix, moved to a new release once the account adopts it
        mix = np.cumsum(MODEL_MIX[a["model_mix"][acct]], axis=1)
        u = r.random(n)
        model_i = np.minimum((u[:, None] > mix).sum(axis=1), 2)
        if self.release_ms is not None:
            adopted = rows.ts >= self.release_ms + a["adopt_delay"][acct] * DAY_MS
            model_i[adopted & (r.random(n) < a["adopt_share"][acct])] = 3
        # tokens
        p_tok = rows.tokens
        system_i = a["system"][acct]
        sys_tok = self._system_tokens[system_i]
        med = self._output_median[a["content"][acct]] * a["out_scale"][acct]
        out_tok = r.lognormal(np.log(med), 0.8)
        known = rows.answers >= 0
        out_tok[known] = rows.answers[known] / 4 * r.lognormal(0, 0.15, int(known.sum())) + 5
        max_tokens = a["max_tokens"][acct]
        out_tok = np.minimum(out_tok.astype(np.int64) + 1, max_tokens)
        # history: earlier turns and answers are billed again as input
        before = np.cumsum(p_tok + out_tok) - (p_tok + out_tok)
        history = np.where(retry, 0, before - before[rows.first_row[sess]]) if n else before
        in_tok = p_tok + sys_tok + history + a["tools"][acct] * 90
        thinking = r.random(n) < a["thinking_p"][acct]
        reasoning = np.where(thinking, r.lognormal(np.log(900), 0.9, n).astype(np.int64), 0)
        temp = a["temperature"][acct].copy()
        if n_retry:
            temp[retry] = RETRY_TEMPERATURES[rows.turn_index[retry] % len(RETRY_TEMPERATURES)]
        status_i = r.choice(len(STATUS), size=n, p=STATUS_P)
        ok = status_i == 0
        latency = (350 + out_tok * 14 + reasoning * 9) * r.lognormal(0, 0.25, n)
        client = a["client"][acct]
        system_i = np.where(rows.text_rows & (system_i >= 0), system_i, len(self._systems) - 1)
        return {
            "event_id": None,  # drawn after sorting
            "ts": rows.ts,
            "account_id": _Pick(self._account_pa, acct),
            "api_key_id": _Pick(self._keys, key[sess]),
            "end_user_id": _Pick(pa.array(end_user, type=pa.string()), sess),
            "conversation_id": _Pick(conv_ids, conv_idx),
            "turn_index": np.where(retry, 0, rows.turn_index),
            "ip": _Pick(self._ips, ip),
            "ip_hash": pa.nulls(n, pa.string()),
            "asn": self._asn[ip],
            "ip_country": _Pick(self._country, ip),
            "user_agent": _Pick(self._user_agents, client),
            "tls_fingerprint": _Pick(self._tls, client),
            "model": _Pick(self._models, model_i),
            "endpoint": _Pick(self._endpoint, client),
            "system_prompt": _Pick(self._systems, system_i),
            "response": pa.nulls(n, pa.string()),
            "input_tokens": in_tok,
            "output_tokens": np.where(ok, out_tok, 0),
            "reasoning_tokens": np.where(ok, reasoning, 0),
            "max_tokens": max_tokens,
            "temperature": np.where(temp < 0, np.nan, temp),
            "tools_count": a["tools"][acct],
            "thinking": thinking,
            "status": _Pick(self._status, status_i),
            "latency_ms": np.where(ok, latency, latency * 0.05).astype(np.int64),
        }

    def batches(self) -> Iterator[tuple[pa.Table, pa.Table]]:
        """Exchanges and their labels in time order, a batch per day (or part of a day)."""
        carry: pa.Table | None = None
        k = self.chunks_per_day
        for d in range(self.days):
            acct_s, start_s = self._sessions(d)  # sorted by start
            bounds = np.searchsorted(
                start_s, self.t0 + d * DAY_MS + np.arange(1, k) * (DAY_MS // k)
            )
            for c, (lo, hi) in enumerate(
                zip([0, *bounds.tolist()], [*bounds.tolist(), len(acct_s)], strict=True)
            ):
                table = self._chunk_rows(acct_s[lo:hi], start_s[lo:hi])
                if carry is not None and carry.num_rows:
                    table = self._merge(carry, table)
                ts = table.column("ts").cast(pa.int64()).to_numpy()
                cutoff = self.t0 + d * DAY_MS + (c + 1) * (DAY_MS // k)
                final = d == self.days - 1 and c == k - 1
                split = len(ts) if final else int(np.searchsorted(ts, cutoff))
                out, carry = table.slice(0, split), table.slice(split)
                labelled = out.filter(pc.is_valid(out.column(_LABEL)))
                labels = pa.table(
                    [labelled.column("event_id"), labelled.column(_LABEL)],
                    schema=self._label_schema,
                )
                yield out.drop_columns([_LABEL]), labels

    def _merge(self, carry: pa.Table, table: pa.Table) -> pa.Table:
        """Rows carried from the previous batch fall in this one's first hours: merge only there."""
        ts = table.column("ts").cast(pa.int64()).to_numpy()
        last = int(carry.column("ts").cast(pa.int64()).to_numpy().max())
        head_n = int(np.searchsorted(ts, last, side="right"))
        head = pa.concat_tables([carry, table.slice(0, head_n)])
        head_ts = head.column("ts").cast(pa.int64()).to_numpy()
        head = head.take(pa.array(np.lexsort((self.rng.random(len(head_ts)), head_ts))))
        return pa.concat_tables([head, table.slice(head_n)])
