"""What a campaign report and the campaign page show, read from the latest scan's tables.

Nothing here re-derives detection: the campaign's figures, evidence and member profile come
from ``campaigns.explain.explain_campaign`` (what ``stillwatch explain campaign`` prints); this
module adds the views a person needs beside them, each one query over the store: campaign
exchanges per day against everyone else's, the member graph from ``links`` (capped, the rest
aggregated), capability mix and infrastructure against the population, hour-of-week rhythm,
and a sample of the campaign's prompts (their text only when asked for).

"Legitimate traffic" here means every exchange no reported campaign of the scan claims: it
still holds undetected campaigns and the resold traffic of hydra accounts is in it.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import Any

from stillwatch.campaigns.explain import explain_campaign
from stillwatch.engine.store import Store
from stillwatch.errors import StillwatchError
from stillwatch.features.reference import ASN_KINDS, asn_kind
from stillwatch.ipnet import prefix as ip_prefix
from stillwatch.report.frame import prompt_view

SAMPLE_PROMPTS = 8
TOP_VALUES = 10
_NOT_CLAIMED = """NOT EXISTS (SELECT 1 FROM campaign_exchanges c
                               WHERE c.scan_id = $scan AND c.event_id = x.event_id)"""
_CLAIMED = """(SELECT x.* FROM campaign_exchanges c JOIN exchanges x USING (event_id)
               WHERE c.scan_id = $scan AND c.campaign_id = $campaign)"""


def reported_ids(store: Store, scan_id: str) -> list[str]:
    """The scan's reported campaigns, largest first (as ``stillwatch campaigns`` lists them)."""
    return [
        str(r[0])
        for r in store.sql(
            "SELECT campaign_id FROM campaigns WHERE scan_id = ? AND status = 'reported' "
            "ORDER BY exchanges DESC NULLS LAST, score DESC, campaign_id",
            [scan_id],
        )
    ]


def _rows(store: Store, query: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    used = {k: v for k, v in params.items() if "$" + k in query}
    return store.con.execute(query, used).fetchall()


def _int(x: Any) -> int:
    return 0 if x is None else int(x)


def summary_sentence(c: dict[str, Any], operator_campaigns: int) -> str:
    """The disclosure-style opening line: "N exchanges (interval) through M accounts between
    D1 and D2, targeting …, linked to operator …"."""
    if c["status"] != "reported":
        if not (c.get("evidence") or {}).get("account_measured", True):
            return (
                f"Cluster {c['campaign_id']} of {c['accounts']:,} accounts scored "
                f"{c['score']:.2f}: not reported as a campaign, since no account facts were "
                "measured (no accounts or enforcements data)."
            )
        return (
            f"Cluster {c['campaign_id']} of {c['accounts']:,} accounts scored {c['score']:.2f}, "
            f"below the threshold {c['threshold']:.2f}: not reported as a campaign."
        )
    caps = c.get("capabilities") or {}
    targeting = (
        ", ".join(f"{k} ({100 * float(v):.0f}% of members)" for k, v in list(caps.items())[:3])
        if caps
        else "capabilities not labelled (no prompt text, or no clear focus in its members' prompts)"
    )
    operator = c.get("operator_id")
    linked = (
        f"linked to operator {operator}"
        + (
            f" (with {operator_campaigns - 1} other campaign(s))"
            if operator_campaigns > 1
            else " (no other campaign)"
        )
        if operator
        else "not linked to an operator"
    )
    return (
        f"{c['exchanges']:,} exchanges ({c['exchanges_low']:,}–{c['exchanges_high']:,}) through "
        f"{c['accounts']:,} accounts ({c['accounts_low']:,}–{c['accounts_high']:,}) between "
        f"{c['first_seen']} and {c['last_seen']}, targeting {targeting}, {linked}."
    )


def daily(store: Store, scan_id: str, campaign_id: str) -> list[dict[str, Any]]:
    """Per day over the store's whole span: this campaign's exchanges, and the exchanges no
    reported campaign claims."""
    p = {"scan": scan_id, "campaign": campaign_id}
    mine = dict(
        _rows(
            store,
            "SELECT day, count(*) FROM campaign_exchanges WHERE scan_id = $scan "
            "AND campaign_id = $campaign GROUP BY day",
            p,
        )
    )
    legit = dict(
        _rows(
            store,
            f"SELECT CAST(ts AS DATE) AS day, count(*) FROM exchanges x WHERE {_NOT_CLAIMED} "
            "GROUP BY day",
            {"scan": scan_id},
        )
    )
    days = sorted(set(mine) | set(legit))
    if not days:
        return []
    first, last = days[0], days[-1]
    out = []
    day = first
    while day <= last:
        out.append(
            {"day": day, "campaign": _int(mine.get(day)), "legitimate": _int(legit.get(day))}
        )
        day = day + timedelta(days=1)
    return out


def member_graph(store: Store, scan_id: str, campaign_id: str, max_nodes: int) -> dict[str, Any]:
    """The campaign's members and the ``links`` between them. At most ``max_nodes`` nodes are
    drawn: the most firmly tied members (membership, then the weight of their ties inside),
    and the rest as one "+N core/peripheral accounts" node per role, tied to the drawn members
    they link to (edge ``count``: how many links it stands for). A 25,000-account campaign
    opens with a few hundred nodes."""
    p = {"scan": scan_id, "campaign": campaign_id}
    store.con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _rep_edges AS
        WITH m AS (SELECT account_id FROM campaign_members
                   WHERE scan_id = $scan AND campaign_id = $campaign)
        SELECT link_id, min(account_id) AS a, max(account_id) AS b, any_value(weight) AS w,
               any_value(link_types) AS types
        FROM links WHERE scan_id = $scan AND account_id IN (SELECT account_id FROM m)
        GROUP BY link_id HAVING count(*) = 2
        """,
        p,
    )
    members = _rows(
        store,
        """
        WITH s AS (SELECT account_id, sum(w) AS strength FROM (
                     SELECT a AS account_id, w FROM _rep_edges
                     UNION ALL SELECT b, w FROM _rep_edges) GROUP BY account_id)
        SELECT m.account_id, m.role, m.membership, coalesce(s.strength, 0)
        FROM campaign_members m LEFT JOIN s USING (account_id)
        WHERE m.scan_id = $scan AND m.campaign_id = $campaign
        ORDER BY m.membership DESC, 4 DESC, m.account_id
        """,
        p,
    )
    total = len(members)
    # Keep room for the two aggregate nodes when some members are not drawn.
    room = total if total <= max_nodes else max(max_nodes - 2, 1)
    drawn = members[:room]
    rest = members[room:]
    drawn_ids = {r[0] for r in drawn}
    role_of = {r[0]: r[1] for r in members}
    nodes = [
        {
            "id": "a:" + a,
            "label": a,
            "kind": role or "core",
            "membership": round(float(mem), 3),
            "strength": round(float(s), 3),
        }
        for a, role, mem, s in drawn
    ]
    store.con.execute("CREATE OR REPLACE TEMP TABLE _rep_drawn (account_id VARCHAR)")
    if drawn_ids:
        store.con.executemany("INSERT INTO _rep_drawn VALUES (?)", [[a] for a in drawn_ids])
    inner = _rows(
        store,
        """SELECT a, b, w, types FROM _rep_edges
           WHERE a IN (SELECT account_id FROM _rep_drawn) AND b IN (SELECT account_id FROM _rep_drawn)
           ORDER BY w DESC, a, b""",
        {},
    )
    edges = [
        {"source": "a:" + a, "target": "a:" + b, "weight": round(float(w), 3), "types": list(t)}
        for a, b, w, t in inner
    ]
    aggregated = {"core": 0, "peripheral": 0}
    for r in rest:
        aggregated["peripheral" if r[1] == "peripheral" else "core"] += 1
    if rest:
        outer = _rows(
            store,
            """
            WITH d AS (SELECT account_id FROM _rep_drawn),
            o AS (SELECT CASE WHEN a IN (SELECT account_id FROM d) THEN a ELSE b END AS drawn,
                         CASE WHEN a IN (SELECT account_id FROM d) THEN b ELSE a END AS other, w
                  FROM _rep_edges
                  WHERE (a IN (SELECT account_id FROM d)) <> (b IN (SELECT account_id FROM d)))
            SELECT other, drawn, w FROM o
            """,
            {},
        )
        tally: Counter[tuple[str, str]] = Counter()
        weight: dict[tuple[str, str], float] = {}
        for other, target, w in outer:
            role = "peripheral" if role_of.get(other) == "peripheral" else "core"
            tally[(role, target)] += 1
            weight[(role, target)] = weight.get((role, target), 0.0) + float(w)
        for role, n in aggregated.items():
            if n:
                nodes.append(
                    {"id": "more:" + role, "label": f"+{n:,} {role} accounts", "kind": "more"}
                )
        for (role, target), n in sorted(tally.items()):
            edges.append(
                {
                    "source": "more:" + role,
                    "target": "a:" + target,
                    "weight": round(weight[(role, target)], 3),
                    "count": n,
                }
            )
    store.con.execute("DROP TABLE IF EXISTS _rep_drawn")
    store.con.execute("DROP TABLE IF EXISTS _rep_edges")
    return {
        "nodes": nodes,
        "edges": edges,
        "members": total,
        "drawn": len(drawn),
        "aggregated": sum(aggregated.values()),
    }


def capability_mix(store: Store, scan_id: str, campaign: dict[str, Any]) -> list[dict[str, Any]]:
    """Share of the campaign's members per main capability of their sampled prompts, beside
    the same share over every account the scan labelled (``content.capability-focus``)."""
    population = dict(
        _rows(
            store,
            """SELECT cap, n / sum(n) OVER () FROM (
                 SELECT evidence->>'capability' AS cap, count(*) AS n FROM signals
                 WHERE scan_id = $scan AND detector = 'content.capability-focus' GROUP BY cap)""",
            {"scan": scan_id},
        )
    )
    mine = campaign.get("capabilities") or {}
    caps = list(mine) + sorted(set(population) - set(mine))
    return [
        {
            "capability": k,
            "campaign": float(mine.get(k, 0.0)),
            "population": float(population.get(k) or 0.0),
        }
        for k in caps
        if k is not None
    ]


def infrastructure(store: Store, scan_id: str, campaign_id: str) -> dict[str, Any]:
    """ASN kinds and countries of the campaign's exchanges beside the unclaimed traffic's
    (shares), and its top network prefixes (/24 for IPv4, /48 for IPv6) with exchanges and
    accounts."""
    p = {"scan": scan_id, "campaign": campaign_id}
    mine_asn = _rows(store, f"SELECT asn, count(*) FROM {_CLAIMED} GROUP BY asn", p)
    legit_asn = _rows(
        store, f"SELECT asn, count(*) FROM exchanges x WHERE {_NOT_CLAIMED} GROUP BY asn", p
    )

    def kinds(rows: list[tuple[Any, ...]]) -> Counter[str]:
        out: Counter[str] = Counter()
        for asn, n in rows:
            out[asn_kind(asn)] += int(n)
        return out

    km, kl = kinds(mine_asn), kinds(legit_asn)
    tm, tl = max(sum(km.values()), 1), max(sum(kl.values()), 1)
    asn_kinds = [
        {"kind": k, "campaign": km[k] / tm, "population": kl[k] / tl, "exchanges": km[k]}
        for k in (*ASN_KINDS, "unknown")
        if km[k] or kl[k]
    ]
    cm = dict(_rows(store, f"SELECT ip_country, count(*) FROM {_CLAIMED} GROUP BY 1", p))
    cl = dict(
        _rows(
            store,
            f"SELECT ip_country, count(*) FROM exchanges x WHERE {_NOT_CLAIMED} GROUP BY 1",
            p,
        )
    )
    cms, cls = max(sum(cm.values()), 1), max(sum(cl.values()), 1)
    countries = [
        {
            "country": k or "unknown",
            "campaign": int(cm[k]) / cms,
            "population": int(cl.get(k) or 0) / cls,
            "exchanges": int(cm[k]),
        }
        for k in sorted(cm, key=lambda k: (-int(cm[k]), str(k)))[:TOP_VALUES]
    ]
    prefixes: Counter[str] = Counter()
    accounts: dict[str, set[str]] = {}
    for ip, account, n in _rows(
        store,
        f"SELECT ip, account_id, count(*) FROM {_CLAIMED} WHERE ip IS NOT NULL GROUP BY 1, 2",
        p,
    ):
        try:
            net = ip_prefix(ip)
        except ValueError:
            net = "unparsed"
        prefixes[net] += int(n)
        accounts.setdefault(net, set()).add(account)
    top = sorted(prefixes.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_VALUES]
    return {
        "asn_kinds": asn_kinds,
        "countries": countries,
        "prefixes": [{"prefix": k, "exchanges": n, "accounts": len(accounts[k])} for k, n in top],
        "distinct_prefixes": len(prefixes),
    }


def rhythm(store: Store, scan_id: str, campaign_id: str) -> dict[str, Any]:
    """Exchanges per hour of the week (UTC; Monday 0h first): the campaign's and the
    unclaimed traffic's, each as a 7 × 24 grid of counts."""
    p = {"scan": scan_id, "campaign": campaign_id}

    def grid(query: str) -> list[list[int]]:
        g = [[0] * 24 for _ in range(7)]
        for dow, hour, n in _rows(store, query, p):
            g[int(dow) - 1][int(hour)] = int(n)
        return g

    return {
        "campaign": grid(f"SELECT isodow(ts), hour(ts), count(*) FROM {_CLAIMED} GROUP BY 1, 2"),
        "legitimate": grid(
            f"SELECT isodow(ts), hour(ts), count(*) FROM exchanges x WHERE {_NOT_CLAIMED} "
            "GROUP BY 1, 2"
        ),
    }


def sample_prompts(
    store: Store, scan_id: str, campaign_id: str, show_text: bool, n: int = SAMPLE_PROMPTS
) -> list[dict[str, Any]]:
    """A fixed sample (by hash of the event id) of the campaign's exchanges that kept prompt
    text, each split into its template frame and slots (``report.frame``). Without
    ``show_text`` only the shape leaves this function: length, slot kinds, frame share."""
    rows = _rows(
        store,
        f"""SELECT event_id, ts, account_id, prompt FROM {_CLAIMED}
            WHERE prompt IS NOT NULL ORDER BY hash(event_id), event_id LIMIT $n""",
        {"scan": scan_id, "campaign": campaign_id, "n": n},
    )
    return [
        {"event_id": ev, "ts": ts, "account_id": acc, **prompt_view(text, show_text)}
        for ev, ts, acc, text in rows
    ]


def members(store: Store, scan_id: str, campaign_id: str, limit: int) -> list[dict[str, Any]]:
    """Members with role, membership and campaign exchanges, most firmly tied first."""
    cur = store.con.execute(
        """
        SELECT m.account_id, m.role, m.membership, coalesce(e.n, 0) AS campaign_exchanges,
               e.first_day, e.last_day
        FROM campaign_members m
        LEFT JOIN (SELECT account_id, count(*) AS n, min(day) AS first_day, max(day) AS last_day
                   FROM campaign_exchanges WHERE scan_id = $scan AND campaign_id = $campaign
                   GROUP BY account_id) e USING (account_id)
        WHERE m.scan_id = $scan AND m.campaign_id = $campaign
        ORDER BY m.membership DESC, campaign_exchanges DESC, m.account_id LIMIT $limit
        """,
        {"scan": scan_id, "campaign": campaign_id, "limit": limit},
    )
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def campaign_facts(
    store: Store,
    scan_id: str,
    campaign_id: str,
    *,
    max_nodes: int = 300,
    show_text: bool = False,
    samples: int = SAMPLE_PROMPTS,
    member_limit: int = 1000,
) -> dict[str, Any]:
    """Everything the report and the campaign page show about one campaign of ``scan_id``."""
    c = explain_campaign(store, campaign_id, scan_id)
    operator_campaigns = _int(
        store.scalar(
            "SELECT count(*) FROM campaigns WHERE scan_id = ? AND operator_id = ? "
            "AND status = 'reported'",
            [scan_id, c.get("operator_id")],
        )
        if c.get("operator_id")
        else 0
    )
    reported = c["status"] == "reported"
    return {
        "campaign": c,
        "summary": summary_sentence(c, operator_campaigns),
        "operator_campaigns": operator_campaigns,
        "daily": daily(store, scan_id, campaign_id) if reported else [],
        "graph": member_graph(store, scan_id, campaign_id, max_nodes),
        "capabilities": capability_mix(store, scan_id, c),
        "infrastructure": infrastructure(store, scan_id, campaign_id),
        "rhythm": rhythm(store, scan_id, campaign_id),
        "samples": sample_prompts(store, scan_id, campaign_id, show_text, samples),
        "members": members(store, scan_id, campaign_id, member_limit),
        "text_shown": show_text,
    }


def scan_overview(store: Store, scan_id: str) -> dict[str, Any]:
    """The scan the report reads: its id, when it finished, the store's span and size."""
    finished = store.scalar("SELECT finished_at FROM scans WHERE scan_id = ?", [scan_id])
    n, first, last, accounts = store.sql(
        "SELECT count(*), min(ts), max(ts), count(DISTINCT account_id) FROM exchanges"
    )[0]
    claimed = store.scalar("SELECT count(*) FROM campaign_exchanges WHERE scan_id = ?", [scan_id])
    notes = store.scalar(
        "SELECT coalesce(json_extract(summary, '$.notes'), '[]') FROM scans WHERE scan_id = ?",
        [scan_id],
    )
    return {
        # what limited the scan's judgement (no account facts), in words
        "notes": json.loads(notes) if notes else [],
        "scan_id": scan_id,
        "finished_at": finished,
        "exchanges": _int(n),
        "accounts": _int(accounts),
        "first": first.date() if first is not None else None,
        "last": last.date() if last is not None else None,
        "claimed_exchanges": _int(claimed),
    }


def check_campaign(store: Store, scan_id: str, campaign_id: str) -> None:
    if not store.scalar(
        "SELECT count(*) FROM campaigns WHERE scan_id = ? AND campaign_id = ?",
        [scan_id, campaign_id],
    ):
        raise StillwatchError(f"campaign {campaign_id!r}: not in scan {scan_id}")
