"""``stillwatch explain account ID``: the evidence of one scan about one account, in words.

Reads only what the scan wrote (``account_scores``, ``signals``, ``account_features``,
``link_candidates``, ``scans``); prompt text stays redacted unless asked for.
"""

from __future__ import annotations

import json
from typing import Any

from stillwatch.detectors.base import FAMILY_GROUPS, GROUPS
from stillwatch.detectors.words import sentence
from stillwatch.engine.store import Store
from stillwatch.errors import StillwatchError

GROUP_WORDS = {
    "account": "the account itself (young, unverified, tied to bans)",
    "coordination": "coordination with other accounts (shared infrastructure, timing, bursts)",
    "usage": "harvesting-like use (rhythm, tokens, conversation shape, content)",
}
SAMPLE_PROMPTS = 3


def explain_account(
    store: Store, account_id: str, scan_id: str, show_text: bool = False
) -> dict[str, Any]:
    """Everything ``explain`` prints, as one dict (the JSON form)."""
    row = store.sql(
        "SELECT score, flagged, family_scores, group_scores, top_reasons, group_id "
        "FROM account_scores WHERE scan_id = ? AND account_id = ?",
        [scan_id, account_id],
    )
    if not row:
        raise StillwatchError(f"account {account_id!r}: not in scan {scan_id}")
    score, flagged, families, groups, reasons, group_id = row[0]
    scan = store.sql("SELECT settings, detectors FROM scans WHERE scan_id = ?", [scan_id])[0]
    settings, detectors = json.loads(scan[0]), json.loads(scan[1] or "{}")
    threshold = float(settings.get("flag_threshold", 0.5))
    signals = [
        {"detector": d, "family": f, "group": FAMILY_GROUPS.get(f, "?"),
         "score": round(float(s), 3), "fact": _redact(d, json.loads(e), show_text)}
        for d, f, s, e in store.sql(
            "SELECT detector, family, score, evidence FROM signals "
            "WHERE scan_id = ? AND account_id = ? ORDER BY score DESC, detector",
            [scan_id, account_id],
        )
    ]  # fmt: skip
    feats = _features(store, scan_id, account_id)
    links = store.sql(
        "SELECT l.link_type, count(*) FROM link_candidates l "
        "WHERE l.scan_id = ? AND l.account_id = ? GROUP BY 1 ORDER BY 2 DESC, 1",
        [scan_id, account_id],
    )
    campaign = (
        store.sql(
            "SELECT c.campaign_id, c.operator_id, c.score, c.accounts, m.membership, m.role "
            "FROM campaigns c JOIN campaign_members m USING (scan_id, campaign_id) "
            "WHERE c.scan_id = ? AND c.campaign_id = ? AND m.account_id = ?",
            [scan_id, group_id, account_id],
        )
        if group_id
        else []
    )
    group_scores = json.loads(groups or "{}")
    out: dict[str, Any] = {
        "account_id": account_id,
        "scan_id": scan_id,
        "score": round(float(score), 3),
        "flag_threshold": threshold,
        "flagged": bool(flagged),
        "campaign": (
            {
                "campaign_id": campaign[0][0],
                "operator_id": campaign[0][1],
                "campaign_score": round(float(campaign[0][2]), 3),
                "accounts": campaign[0][3],
                "membership": round(float(campaign[0][4]), 3),
                "role": campaign[0][5],
            }
            if campaign
            else None
        ),
        "group_scores": group_scores,
        "family_scores": json.loads(families or "{}"),
        "top_reasons": json.loads(reasons or "[]"),
        "signals": signals,
        "profile": _profile(feats),
        "linked_accounts": {t: int(n) for t, n in links},
        "skipped_detectors": {
            k: v.get("reason") for k, v in sorted(detectors.items()) if not v.get("ran")
        },
    }
    if not flagged:
        out["why_not_flagged"] = _why_not(group_scores, threshold, float(score), feats)
        candidate = store.sql(
            "SELECT c.campaign_id, c.status, c.score, c.threshold FROM campaign_members m "
            "JOIN campaigns c USING (scan_id, campaign_id) WHERE m.scan_id = ? AND "
            "m.account_id = ?",
            [scan_id, account_id],
        )
        if candidate:
            cid, status, cscore, cthr = candidate[0]
            out["why_not_flagged"] += (
                f"; its cluster {cid} ({status}) scores {float(cscore):.2f}, below the "
                f"campaign threshold {float(cthr):.2f}"
                if status == "candidate"
                else f"; its cluster {cid} is {status}"
            )
        else:
            out["why_not_flagged"] += "; it belongs to no campaign of this scan"
    if show_text:
        out["sample_prompts"] = [
            (p or "")[:300]
            for (p,) in store.sql(
                "SELECT prompt FROM exchanges WHERE account_id = ? AND prompt IS NOT NULL "
                "ORDER BY event_id LIMIT ?",
                [account_id, SAMPLE_PROMPTS],
            )
        ]
    return out


def _redact(detector: str, evidence: dict[str, Any], show_text: bool) -> str:
    if not show_text and "frames" in evidence:
        evidence = {**evidence, "frames": ["[redacted]"] * len(evidence["frames"])}
    return sentence(detector, evidence)


def _features(store: Store, scan_id: str, account_id: str) -> dict[str, Any]:
    cur = store.con.execute(
        "SELECT * EXCLUDE (scan_id) FROM account_features WHERE scan_id = ? AND account_id = ?",
        [scan_id, account_id],
    )
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    return dict(zip(names, rows[0], strict=True)) if rows else {}


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _profile(f: dict[str, Any]) -> list[str]:
    """The account's measured facts, a line per kind."""
    if not f:
        return []
    off = f.get("apparent_utc_offset")
    lines = [
        f"{_fmt(f.get('exchanges'))} exchanges on {_fmt(f.get('active_days'))} active days "
        f"({_fmt(f.get('exchanges_per_active_day'))} per day), from {f.get('first_ts')} "
        f"to {f.get('last_ts')}",
        f"rhythm: apparent time zone UTC{'+' if (off or 0) >= 0 else ''}{_fmt(off)}; "
        f"{_pct(f.get('quiet_window_share'))} of traffic in its quietest six hours, "
        f"{_pct(f.get('weekend_share'))} on weekends, duty cycle {_pct(f.get('duty_cycle'))}, "
        f"longest idle gap {_fmt(f.get('longest_idle_hours'))} h",
        f"tokens: {_fmt(f.get('mean_input_tokens'), 0)} in / "
        f"{_fmt(f.get('mean_output_tokens'), 0)} out on average, thinking on "
        f"{_pct(f.get('thinking_share'))}, largest cap {_pct(f.get('max_cap_share'))}",
        f"conversations: {_fmt(f.get('conversations'))}, "
        f"{_pct(f.get('single_turn_share'))} single-turn, "
        f"{_fmt(f.get('mean_turn_depth'))} turns on average",
        f"infrastructure: {_fmt(f.get('distinct_ips'))} addresses in "
        f"{_fmt(f.get('distinct_prefixes'))} networks, {_fmt(f.get('distinct_asns'))} ASNs "
        f"(cloud {_pct(f.get('cloud_share'))}, hosting {_pct(f.get('hosting_share'))}, "
        f"mobile {_pct(f.get('mobile_share'))}, ISP {_pct(f.get('isp_share'))}, "
        f"unknown {_pct(f.get('unknown_asn_share'))})",
        f"registration: path {_fmt(f.get('signup_path'))}, verified "
        f"{_fmt(f.get('verified'))}, first used {_fmt(f.get('age_days_at_first_use'))} days "
        f"after registering; its card is shared by {_fmt(f.get('payment_accounts'))} "
        f"account(s); {_fmt(f.get('same_hour_same_path'))} registered in the same hour on its path",
        f"enforcement: enforced {_fmt(f.get('enforced'))}, tied to "
        f"{_fmt(f.get('linked_enforced_accounts'))} enforced account(s)",
    ]
    return lines


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * float(value):.0f}%"


def _why_not(groups: dict[str, float], threshold: float, score: float, f: dict[str, Any]) -> str:
    """Why the account stayed below the threshold: the groups that lack evidence."""
    if not groups:
        return "fewer than two evidence groups could be measured in this store"
    weak = sorted(groups.items(), key=lambda kv: (kv[1], kv[0]))
    parts = []
    for g, v in weak:
        if v >= threshold:
            continue
        words = f"{g} scores {v:.2f}: little evidence of {GROUP_WORDS[g]}"
        if g == "account" and f:
            words += (
                f" (first used {_fmt(f.get('age_days_at_first_use'))} days after registering, "
                f"verified {_fmt(f.get('verified'))})"
            )
        parts.append(words)
    missing = [g for g in GROUPS if g not in groups]
    if missing:
        parts.append(f"not measured: {', '.join(missing)}")
    return f"own score {score:.2f}; a campaign needs evidence in every group, and " + (
        "; ".join(parts) or "every group has some"
    )


def render_text(e: dict[str, Any]) -> list[str]:
    """The table form of ``explain``: plain lines."""
    verdict = "FLAGGED" if e["flagged"] else "not flagged"
    lines = [
        f"account {e['account_id']}  ({e['scan_id']})",
        f"score {e['score']:.2f}: {verdict} (flagged = a member of a reported campaign)",
    ]
    c = e.get("campaign")
    if c:
        lines.append(
            f"campaign {c['campaign_id']} (operator {c['operator_id']}, score "
            f"{c['campaign_score']:.2f}, {c['accounts']} accounts): {c['role']} member, "
            f"membership {c['membership']:.2f}  (stillwatch explain campaign {c['campaign_id']})"
        )
    lines.append("evidence by group:")
    for g in GROUPS:
        fams = {f: s for f, s in e["family_scores"].items() if FAMILY_GROUPS.get(f) == g}
        fam_text = ", ".join(f"{f} {s:.2f}" for f, s in sorted(fams.items())) or "no signal"
        value = e["group_scores"].get(g)
        shown = "not measured" if value is None else f"{value:.2f}"
        lines.append(f"  {g:<13}{shown:<14}{fam_text}")
    lines.append("top facts:")
    for i, r in enumerate(e["top_reasons"], 1):
        lines.append(f"  {i}. [{r['detector']} {r['score']:.2f}] {r['fact']}")
    if not e["top_reasons"]:
        lines.append("  (no detector found anything)")
    if e.get("why_not_flagged"):
        lines.append(f"why not flagged: {e['why_not_flagged']}")
    if e["linked_accounts"]:
        links = ", ".join(f"{n} by {t.replace('_', ' ')}" for t, n in e["linked_accounts"].items())
        lines.append(f"linked accounts (pairs proposed to the link stage): {links}")
    lines.append("measured:")
    lines += [f"  {p}" for p in e["profile"]]
    if e["skipped_detectors"]:
        lines.append("skipped detectors:")
        lines += [f"  {d}: {r}" for d, r in e["skipped_detectors"].items()]
    if "sample_prompts" in e:
        lines.append("sample prompts:")
        lines += [f"  - {p}" for p in e["sample_prompts"]]
    else:
        lines.append("prompt text: redacted (--show-text shows it)")
    return lines
