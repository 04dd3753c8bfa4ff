"""What ``stillwatch campaigns`` lists and ``stillwatch explain campaign ID`` says, read from
the store's campaign tables (never recomputed)."""

from __future__ import annotations

import json
from typing import Any

from stillwatch.campaigns.judge import PRIOR_MEMBERS, accounts_weight
from stillwatch.engine.store import Store
from stillwatch.errors import StillwatchError

LIST_COLUMNS = (
    "campaign_id", "operator_id", "status", "score", "accounts", "accounts_low",
    "accounts_high", "exchanges", "exchanges_low", "exchanges_high", "first_seen", "last_seen",
)  # fmt: skip


def list_campaigns(
    store: Store, scan_id: str, include_candidates: bool = False
) -> list[dict[str, Any]]:
    where = "" if include_candidates else " AND status = 'reported'"
    rows = store.con.execute(
        f"SELECT {', '.join(LIST_COLUMNS)} FROM campaigns WHERE scan_id = ?{where} "
        "ORDER BY status = 'reported' DESC, exchanges DESC NULLS LAST, score DESC, campaign_id",
        [scan_id],
    ).fetchall()
    return [dict(zip(LIST_COLUMNS, r, strict=True)) for r in rows]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def explain_campaign(store: Store, campaign_id: str, scan_id: str) -> dict[str, Any]:
    """Everything ``explain campaign`` prints, as one dict (the JSON form)."""
    cols = [d[0] for d in store.con.execute("SELECT * FROM campaigns LIMIT 0").description]
    row = store.sql("SELECT * FROM campaigns WHERE scan_id = ? AND campaign_id = ?",
                    [scan_id, campaign_id])  # fmt: skip
    if not row:
        raise StillwatchError(f"campaign {campaign_id!r}: not in scan {scan_id}")
    c = dict(zip(cols, row[0], strict=True))
    for k in ("capabilities", "infrastructure", "api_keys", "end_users", "evidence"):
        c[k] = _json(c[k])
    roles = dict(store.sql(
        "SELECT role, count(*) FROM campaign_members WHERE scan_id = ? AND campaign_id = ? "
        "GROUP BY role", [scan_id, campaign_id]))  # fmt: skip
    links = store.sql(
        """
        WITH m AS (SELECT account_id FROM campaign_members WHERE scan_id = ? AND campaign_id = ?),
        e AS (SELECT link_id, any_value(link_types) AS t FROM links
              WHERE scan_id = ? AND account_id IN (SELECT account_id FROM m)
              GROUP BY link_id HAVING count(*) = 2)
        SELECT t, count(*) FROM (SELECT unnest(t) AS t FROM e) GROUP BY t ORDER BY 2 DESC, 1
        """,
        [scan_id, campaign_id, scan_id],
    )
    profile = store.sql(
        """
        SELECT avg(f.age_days_at_first_use), avg(f.lifetime_days),
               avg(CASE WHEN f.verified THEN 1.0 ELSE 0.0 END),
               avg(CASE WHEN f.enforced THEN 1.0 ELSE 0.0 END),
               min(f.created_at), max(f.created_at), count(DISTINCT f.signup_path)
        FROM campaign_members m JOIN account_features f USING (scan_id, account_id)
        WHERE m.scan_id = ? AND m.campaign_id = ?
        """,
        [scan_id, campaign_id],
    )[0]
    signals = store.sql(
        """
        SELECT s.detector, count(*), avg(s.score) FROM campaign_members m
        JOIN signals s USING (scan_id, account_id)
        WHERE m.scan_id = ? AND m.campaign_id = ? GROUP BY 1 ORDER BY 2 DESC, 1
        """,
        [scan_id, campaign_id],
    )
    daily = store.sql(
        "SELECT day, count(*) FROM campaign_exchanges WHERE scan_id = ? AND campaign_id = ? "
        "GROUP BY day ORDER BY day",
        [scan_id, campaign_id],
    )
    c["roles"] = roles
    c["edges_by_type"] = {t: int(n) for t, n in links}
    c["members_profile"] = {
        "mean_age_days_at_first_use": profile[0], "mean_lifetime_days": profile[1],
        "verified_share": profile[2], "enforced_share": profile[3],
        "first_registered": profile[4], "last_registered": profile[5], "signup_paths": profile[6],
    }  # fmt: skip
    c["member_signals"] = [
        {"detector": d, "accounts": int(n), "mean_score": round(float(s), 3)} for d, n, s in signals
    ]
    c["daily_exchanges"] = [{"day": d, "exchanges": int(n)} for d, n in daily]
    return c


def _num(x: Any, digits: int = 1) -> str:
    return "n/a" if x is None else f"{float(x):.{digits}f}"


def _pct(x: Any) -> str:
    return "n/a" if x is None else f"{100 * float(x):.0f}%"


def render_campaign(c: dict[str, Any]) -> list[str]:
    """The plain-words form of ``explain campaign``."""
    ev = c["evidence"] or {}
    reported = c["status"] == "reported"
    lines = [
        f"campaign {c['campaign_id']}  ({c['scan_id']})",
        f"status {c['status']}: score {c['score']:.2f} against the threshold "
        f"{c['threshold']:.2f} ({'reported' if reported else 'not reported'})",
    ]
    measured = ev.get("account_measured", True)
    if not measured:
        lines.append(
            "not reported whatever its score: no account facts were measured (no account-group "
            "detector ran), and without them an organization's own fleet looks like a campaign"
        )
    if c["operator_id"]:
        lines.append(f"operator {c['operator_id']}")
    if reported:
        lines += [
            f"accounts {c['accounts']:,} (interval {c['accounts_low']:,}–{c['accounts_high']:,})",
            f"campaign exchanges {c['exchanges']:,} (interval {c['exchanges_low']:,}–"
            f"{c['exchanges_high']:,}) of {c['member_exchanges']:,} sent by its accounts; "
            f"{_pct(ev.get('legit_share'))} of the members' traffic "
            + (
                "is in conversations without any of the campaign's frames (resold)"
                if ev.get("exchanges_split") == "frames"
                else "looks like other customers' (resold)"
            )
            + " and is not counted",
            f"first seen {c['first_seen']} (between {c['first_seen_low']} and "
            f"{c['first_seen_high']}), last seen {c['last_seen']} (between "
            f"{c['last_seen_low']} and {c['last_seen_high']})",
        ]
    else:
        lines.append(f"accounts {c['accounts']:,}")
    lines += [
        "why it scores what it does (each over its members):",
        (
            f"  not organic  {ev.get('account', 0):.2f}  (verified "
            f"{_pct(ev.get('verified_share'))}, most common org {_pct(ev.get('top_org_share'))} "
            "of members"
            + (
                f"; a federation of organizations, each with its own cards and sign-ups: "
                f"{_pct(ev.get('federated_share'))} of members in one of two or more"
                if ev.get("federated_share")
                else ""
            )
            + (
                f"; already banned or suspended: {_pct(ev.get('enforced_share'))} of members)"
                if ev.get("enforced_share")
                else ")"
            )
            if measured
            else "  not organic  not measured (no account-group detector ran)"
        ),
        f"  coordinated  {ev.get('coordination', 0):.2f}  (tied to each other by: "
        + ", ".join(f"{n:,} {t.replace('_', ' ')}" for t, n in c["edges_by_type"].items())
        + ")",
        f"  harvesting   {ev.get('harvest', 0):.2f}  (beyond a typical account, its members ask "
        "for " + _lift(ev.get("lift", {})) + f"; members' own detectors "
        f"{ev.get('member_harvest', 0):.2f})",
    ]
    if ev.get("size"):
        n = int(ev["size"])
        lines.append(
            f"  weighed by its {n:,} accounts: n / (n + {PRIOR_MEMBERS:g}) = "
            f"{accounts_weight(n):.2f} (a few accounts alike by chance are common)"
        )
    p = c["members_profile"]
    lines.append(
        f"members: first used {_num(p['mean_age_days_at_first_use'])} days after registering "
        f"on average, active {_num(p['mean_lifetime_days'])} days, verified "
        f"{_pct(p['verified_share'])}, enforced {_pct(p['enforced_share'])}; registered "
        f"{p['first_registered']} – {p['last_registered']} over {p['signup_paths']} sign-up "
        "path(s); roles " + ", ".join(f"{n} {r}" for r, n in sorted(c["roles"].items()))
    )
    if c["member_signals"]:
        lines.append("members' signals:")
        lines += [
            f"  {s['detector']}: {s['accounts']} account(s), mean {s['mean_score']:.2f}"
            for s in c["member_signals"][:10]
        ]
    caps = c.get("capabilities") or {}
    if caps:
        lines.append("capabilities targeted (share of members): " + ", ".join(
            f"{k} {_pct(v)}" for k, v in caps.items()))  # fmt: skip
    infra = c.get("infrastructure") or {}
    for key, items in infra.items():
        items = _json(items)
        if items:
            shown = ", ".join(
                f"{i.get('value', i.get('asn'))} ({i.get('exchanges', i.get('accounts'))})"
                for i in items
            )
            lines.append(f"shared {key.replace('_', ' ')}: {shown}")
    for key in ("api_keys", "end_users"):
        v = c.get(key) or {}
        if v:
            top = ", ".join(f"{i['value']} ({i['exchanges']})" for i in v.get("top", [])[:5])
            lines.append(f"{key.replace('_', ' ')} carrying it: {v.get('distinct_values')} ({top})")
    if ev.get("merged_ids"):
        lines.append(f"merged from earlier campaigns: {', '.join(ev['merged_ids'])}")
    if ev.get("split_from"):
        lines.append(f"split from: {', '.join(ev['split_from'])}")
    return lines


LIFT_WORDS = {"thinking": "extended thinking", "max_cap": "the largest outputs",
              "elicitation": "reasoning traces in the prompt",
              "targeted": "frontier capabilities"}  # fmt: skip


def _lift(lift: dict[str, float]) -> str:
    """The harvest lift's parts in words, strongest first (``judge.harvest_lift``)."""
    parts = sorted(lift.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{LIFT_WORDS.get(k, k)} +{v:.2f}" for k, v in parts) or "nothing measured"
