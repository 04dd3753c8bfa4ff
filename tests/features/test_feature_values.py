"""Features on tiny hand-made tables, values computed by hand; the reference tables; the
store's DDL agrees with the expressions."""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import pyarrow as pa
import pytest

from stillwatch.engine.detection_tables import ACCOUNT_FEATURE_TYPES
from stillwatch.engine.forget import ACCOUNT_DATA
from stillwatch.engine.store import Store
from stillwatch.features import reference
from stillwatch.features.account import FEATURE_COLUMNS, FEATURE_REQUIRES, account_features
from stillwatch.features.sources import Sources, ip_prefix

T0 = datetime(2026, 4, 20)  # a Monday


def _sources(exchanges: list[dict], accounts: list[dict] | None = None) -> Sources:
    base = {"event_id": "", "account_id": "", "ts": T0, "model": "m", "ip": None, "ip_hash": None,
            "asn": None, "user_agent": None, "tls_fingerprint": None, "ip_country": None,
            "conversation_id": None, "turn_index": None, "input_tokens": None,
            "output_tokens": None, "reasoning_tokens": None, "max_tokens": None,
            "thinking": None, "tools_count": None, "status": None}  # fmt: skip
    rows = [{**base, "event_id": f"e{i}", **r} for i, r in enumerate(exchanges)]
    schema = {"asn": "int64", "turn_index": "int64", "input_tokens": "int64",
              "output_tokens": "int64", "reasoning_tokens": "int64", "max_tokens": "int64",
              "tools_count": "int64", "thinking": "boolean", "ts": "timestamp"}  # fmt: skip
    ex = _table(rows, {k: schema.get(k, "string") for k in base | {"event_id": 0}})
    acc_cols = {"account_id": "string", "created_at": "timestamp", "email_domain": "string",
                "payment_fingerprint": "string", "signup_ip": "string", "country": "string",
                "signup_path": "string", "org_name": "string", "verified": "boolean"}  # fmt: skip
    acc = _table(accounts or [], acc_cols)
    enf = _table([], {"account_id": "string", "ts": "timestamp", "action": "string"})
    return Sources(ex, acc, enf)


def _table(rows: list[dict], schema: dict[str, str]) -> ibis.Table:
    arrow = ibis.schema(schema).to_pyarrow()
    return ibis.memtable(pa.Table.from_pylist([{c: r.get(c) for c in schema} for r in rows], arrow))


def _one(src: Sources, account_id: str) -> dict:
    rows = account_features(src).to_pyarrow().to_pylist()
    return next(r for r in rows if r["account_id"] == account_id)


def test_rhythm_of_a_person_and_of_a_machine() -> None:
    person = [{"account_id": "p", "ts": T0 + timedelta(days=d, hours=h)}
              for d in range(5) for h in (14, 15, 16, 20)]  # fmt: skip
    machine = [{"account_id": "m", "ts": T0 + timedelta(hours=h)} for h in range(7 * 24)]
    src = _sources(person + machine)
    p, m = _one(src, "p"), _one(src, "m")
    # The person's quietest six hours are 21:00–03:00 UTC (next start after 20:00 activity).
    assert p["quiet_window_share"] == 0
    assert p["weekend_share"] == 0
    assert m["quiet_window_share"] == pytest.approx(6 / 24)
    assert m["weekend_share"] == pytest.approx(2 / 7)
    assert m["duty_cycle"] == 1.0 and m["longest_idle_hours"] == 1.0
    assert m["interarrival_cv"] == 0.0
    assert p["duty_cycle"] == pytest.approx(20 / (4 * 24 + 20 - 14 + 1))
    assert p["active_days"] == 5 and p["exchanges_per_active_day"] == 4


def test_conversation_tokens_and_release() -> None:
    rows = [
        {"account_id": "a", "ts": T0 + timedelta(hours=1), "conversation_id": "c1", "turn_index": 0,
         "input_tokens": 100, "output_tokens": 400, "max_tokens": 1000},
        {"account_id": "a", "ts": T0 + timedelta(hours=2), "conversation_id": "c1", "turn_index": 1,
         "input_tokens": 100, "output_tokens": 400, "max_tokens": 4000},
        {"account_id": "a", "ts": T0 + timedelta(days=2, hours=1), "conversation_id": "c2",
         "turn_index": 0, "model": "new", "input_tokens": 100, "output_tokens": 3990,
         "max_tokens": 4000},
        {"account_id": "b", "ts": T0 + timedelta(days=2), "conversation_id": "c3", "model": "new",
         "turn_index": 0},
    ]  # fmt: skip
    a = _one(_sources(rows), "a")
    assert a["conversations"] == 2 and a["single_turn_share"] == 0.5
    assert a["mean_turn_depth"] == 1.5
    assert a["output_input_ratio"] == pytest.approx(4790 / 300)
    assert a["max_cap_share"] == pytest.approx(2 / 3) and a["capped_share"] == pytest.approx(1 / 3)
    # "new" first appears on day 2 (after the data's first day): a release, adopted 1 h later.
    assert a["release_share"] == pytest.approx(1 / 3)
    assert a["first_release_lag_hours"] == pytest.approx(1.0)
    assert a["active_before_release"] is True


def test_asn_kinds_come_from_the_public_reference_and_unknown_is_unknown() -> None:
    # ASNs the simulator never draws: Google Cloud 396982, Contabo 51167, AT&T Mobility 20057,
    # a private-use ASN 64512 and an unlisted one.
    assert reference.asn_kind(396982) == "cloud"
    assert reference.asn_kind(51167) == "hosting"
    assert reference.asn_kind(20057) == "mobile"
    assert reference.asn_kind(64512) == "unknown"
    assert reference.asn_kind(4_200_000_123) == "unknown"
    assert reference.asn_kind(None) == "unknown"
    rows = [{"account_id": "a", "ts": T0 + timedelta(minutes=i), "asn": asn, "ip": "10.0.0.1"}
            for i, asn in enumerate([396982, 51167, 20057, 64512])]  # fmt: skip
    a = _one(_sources(rows), "a")
    assert (a["cloud_share"], a["hosting_share"], a["mobile_share"], a["unknown_asn_share"]) == (
        0.25, 0.25, 0.25, 0.25,
    )  # fmt: skip
    assert reference.versions()["asn_kinds"] == "1"


def test_ip_prefix_of_each_form() -> None:
    t = ibis.memtable(
        {
            "ip": ["203.0.113.9", "2001:db8:1:2:3::9", "198.51.100.0/24", None, "junk"],
            "h": [None, None, None, "k1", None],
        }
    )
    got = t.select(p=ip_prefix(t.ip, t.h)).to_pyarrow().column("p").to_pylist()
    assert got == ["203.0.113.0/24", "2001:db8:1:2::/64", "198.51.100.0/24", "hash:k1", None]


def test_store_ddl_matches_the_feature_expressions() -> None:
    assert tuple(ACCOUNT_FEATURE_TYPES) == FEATURE_COLUMNS
    assert set(FEATURE_REQUIRES) == set(FEATURE_COLUMNS)


def test_every_table_holding_an_account_id_is_registered_for_forget(store: Store) -> None:
    tables = {
        t for (t,) in store.sql(
            "SELECT DISTINCT table_name FROM information_schema.columns "
            "WHERE column_name = 'account_id'"
        )
    }  # fmt: skip
    assert tables - {e.table for e in ACCOUNT_DATA} == set()
