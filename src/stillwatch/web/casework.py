"""What analysts decide: verdicts, actions on the ladder, the allowlist; each with its audit row.

Every write and its audit row (and webhook queue entry) commit together, so there is never a
decision without its record or a record without its decision. stillwatch records and notifies;
the provider's gateway enforces (it reads ``/api/v1/accounts/{id}/risk`` or the webhook).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from stillwatch.engine.casebook import (
    ACTIONS,
    ALLOW_KINDS,
    LADDER,
    VERDICT_ENTITIES,
    VERDICTS,
    Casebook,
    now_text,
)
from stillwatch.errors import UsageError
from stillwatch.ipnet import is_ip_or_prefix
from stillwatch.web import audit
from stillwatch.web.auth import Principal

MAX_NOTE = 4000
MAX_ID = 512


@dataclass(frozen=True)
class Context:
    """Who acts, from where, and whether the webhook wants to hear of it."""

    who: Principal
    client_ip: str | None
    notify: bool

    def actor(self) -> audit.Actor:
        """The audit fields of what this context does."""
        return {
            "actor": self.who.username,
            "actor_role": self.who.role,
            "client_ip": self.client_ip,
            "notify": self.notify,
        }


def _text(value: str | None, what: str, *, required: bool, limit: int = MAX_NOTE) -> str:
    text = (value or "").strip()
    if required and not text:
        raise UsageError(f"{what} is required")
    if len(text) > limit:
        raise UsageError(f"{what} is longer than {limit} characters")
    return text


def record_verdict(
    book: Casebook,
    ctx: Context,
    entity_kind: str,
    entity_id: str,
    verdict: str,
    note: str,
    scan_id: str | None = None,
) -> int:
    """An analyst's verdict on an account or campaign; the latest one stands."""
    if entity_kind not in VERDICT_ENTITIES:
        raise UsageError(
            f"verdict on {entity_kind!r}: expected one of {', '.join(VERDICT_ENTITIES)}"
        )
    if verdict not in VERDICTS:
        raise UsageError(f"verdict {verdict!r}: expected one of {', '.join(VERDICTS)}")
    entity_id = _text(entity_id, "the id", required=True, limit=MAX_ID)
    note = _text(note, "a note saying why", required=True)
    with book.transaction() as con:
        cur = con.execute(
            """INSERT INTO analyst_verdicts (ts, analyst, entity_kind, entity_id, verdict, note,
               scan_id) VALUES (?, ?, ?, ?, ?, ?, ?)""",
            (now_text(), ctx.who.username, entity_kind, entity_id, verdict, note, scan_id),
        )
        audit.append(
            con,
            event="verdict",
            entity_kind=entity_kind,
            entity_id=entity_id,
            account_id=entity_id if entity_kind == "account" else None,
            detail={"verdict": verdict, "scan_id": scan_id},
            reason=note,
            **ctx.actor(),
        )
    return int(cur.lastrowid or 0)


def current_action(book: Casebook, account_id: str, api_key_id: str | None) -> str | None:
    row = book.one(
        """SELECT action FROM actions WHERE account_id = ? AND api_key_id IS ?
           ORDER BY action_id DESC LIMIT 1""",
        (account_id, api_key_id),
    )
    return None if row is None or row[0] == "reinstate" else str(row[0])


def take_action(
    book: Casebook,
    ctx: Context,
    account_id: str,
    action: str,
    reason: str,
    api_key_id: str | None = None,
) -> int:
    """A step on the ladder for an account, or for one of its API keys.

    Any rung may be taken from any other (an analyst may jump straight to ``ban``); the audit
    row says whether it escalated. ``reinstate`` needs something to reinstate.
    """
    if action not in ACTIONS:
        raise UsageError(f"action {action!r}: expected one of {', '.join(ACTIONS)}")
    account_id = _text(account_id, "the account id", required=True, limit=MAX_ID)
    key = _text(api_key_id, "the API key id", required=False, limit=MAX_ID) or None
    reason = _text(reason, "a reason", required=True)
    with book.transaction() as con:
        before = current_action(book, account_id, key)
        if action == "reinstate" and before is None:
            raise UsageError(
                f"nothing to reinstate: {'key ' + key if key else 'account'} has no action in force"
            )
        cur = con.execute(
            """INSERT INTO actions (ts, actor, account_id, api_key_id, action, reason)
               VALUES (?, ?, ?, ?, ?, ?)""",
            (now_text(), ctx.who.username, account_id, key, action, reason),
        )
        rank = {a: i for i, a in enumerate(LADDER)}
        audit.append(
            con,
            event="action",
            entity_kind="api_key" if key else "account",
            entity_id=key or account_id,
            account_id=account_id,
            detail={
                "action": action,
                "account_id": account_id,
                "api_key_id": key,
                "previous": before,
                "escalates": action in rank and rank[action] > rank.get(before or "", -1),
            },
            reason=reason,
            **ctx.actor(),
        )
    return int(cur.lastrowid or 0)


def take_campaign_action(
    book: Casebook,
    ctx: Context,
    campaign_id: str,
    scan_id: str,
    members: list[str],
    action: str,
    reason: str,
) -> dict[str, Any]:
    """A step on the ladder for every given member of a campaign, in one transaction: one
    ``actions`` row per account (so the risk endpoint answers for each at once) and one audit
    row (and webhook event) for the campaign, naming the scan, how many accounts and the
    SHA-256 of their sorted ids (a receiver fetches the list from
    ``GET /api/v1/campaigns/{id}/members``). ``reinstate`` applies to the members with an
    action in force and needs at least one."""
    if action not in ACTIONS:
        raise UsageError(f"action {action!r}: expected one of {', '.join(ACTIONS)}")
    campaign_id = _text(campaign_id, "the campaign id", required=True, limit=MAX_ID)
    reason = _text(reason, "a reason", required=True)
    if not members:
        raise UsageError(f"campaign {campaign_id}: no member accounts to act on")
    with book.transaction() as con:
        if action == "reinstate":
            in_force = {a for a in members if current_action(book, a, None) is not None}
            targets = [a for a in members if a in in_force]
            if not targets:
                raise UsageError(
                    f"nothing to reinstate: no member of {campaign_id} has an action in force"
                )
        else:
            targets = list(members)
        ts = now_text()
        note = f"campaign {campaign_id}: {reason}"
        con.executemany(
            """INSERT INTO actions (ts, actor, account_id, api_key_id, action, reason)
               VALUES (?, ?, ?, NULL, ?, ?)""",
            [(ts, ctx.who.username, a, action, note) for a in targets],
        )
        digest = hashlib.sha256("\n".join(sorted(targets)).encode()).hexdigest()
        audit_id = audit.append(
            con,
            event="action",
            entity_kind="campaign",
            entity_id=campaign_id,
            detail={
                "action": action,
                "campaign_id": campaign_id,
                "scan_id": scan_id,
                "accounts": len(targets),
                "accounts_sha256": digest,
            },
            reason=reason,
            **ctx.actor(),
        )
    return {"audit_id": audit_id, "accounts": len(targets), "action": action}


def campaign_case(book: Casebook, campaign_id: str) -> dict[str, Any]:
    """What analysts decided about a campaign: its verdicts (newest first; the latest stands)
    and the actions taken on its members as a whole (from the audit log)."""
    verdicts = [
        dict(r)
        for r in book.rows(
            """SELECT verdict_id, ts, analyst, verdict, note, scan_id FROM analyst_verdicts
               WHERE entity_kind = 'campaign' AND entity_id = ? ORDER BY verdict_id DESC""",
            (campaign_id,),
        )
    ]
    actions = []
    for r in book.rows(
        """SELECT audit_id, ts, actor, detail, reason FROM audit WHERE event = 'action'
           AND entity_kind = 'campaign' AND entity_id = ? ORDER BY audit_id DESC""",
        (campaign_id,),
    ):
        detail = json.loads(r["detail"])
        actions.append(
            {"audit_id": r["audit_id"], "ts": r["ts"], "actor": r["actor"],
             "action": detail.get("action"), "accounts": detail.get("accounts"),
             "scan_id": detail.get("scan_id"), "reason": r["reason"]}
        )  # fmt: skip
    return {
        "verdict": verdicts[0]["verdict"] if verdicts else None,
        "verdicts": verdicts,
        "actions": actions,
    }


def campaign_verdicts(book: Casebook) -> dict[str, str]:
    """The latest verdict on each campaign."""
    return {
        str(r[0]): str(r[1])
        for r in book.rows(
            """SELECT entity_id, verdict FROM analyst_verdicts v WHERE entity_kind = 'campaign'
               AND verdict_id = (SELECT max(verdict_id) FROM analyst_verdicts w
                                 WHERE w.entity_kind = 'campaign' AND w.entity_id = v.entity_id)"""
        )
    }


def allow(
    book: Casebook,
    ctx: Context,
    entity_kind: str,
    entity: str,
    reason: str,
    *,
    account_id: str | None = None,
    days: int | None = None,
) -> int:
    """Put an account, API key or IP address/prefix on the allowlist the scan honours, for
    ``days`` (None: until removed)."""
    if entity_kind not in ALLOW_KINDS:
        raise UsageError(
            f"allowlist kind {entity_kind!r}: expected one of {', '.join(ALLOW_KINDS)}"
        )
    entity = _text(entity, "the entity", required=True, limit=MAX_ID)
    reason = _text(reason, "a reason", required=True)
    if entity_kind == "ip" and not is_ip_or_prefix(entity):
        raise UsageError(f"allowlist ip {entity!r}: not an IP address or CIDR prefix")
    if entity_kind == "account":
        account_id = entity
    elif entity_kind == "api_key" and not account_id:
        raise UsageError("an API key on the allowlist needs the account it belongs to")
    if days is not None and not 1 <= days <= 3650:
        raise UsageError(f"allowlist days {days}: expected 1 to 3650")
    expires = now_text(datetime.now(UTC) + timedelta(days=days)) if days else None
    with book.transaction() as con:
        cur = con.execute(
            """INSERT INTO allowlist (entity_kind, entity, account_id, reason, expires_at,
               added_by, added_at) VALUES (?, ?, ?, ?, ?, ?, ?)""",
            (entity_kind, entity, account_id, reason, expires, ctx.who.username, now_text()),
        )
        audit.append(
            con,
            event="allowlist_add",
            entity_kind=entity_kind,
            entity_id=entity,
            account_id=account_id,
            detail={"entry_id": cur.lastrowid, "expires_at": expires, "account_id": account_id},
            reason=reason,
            **ctx.actor(),
        )
    return int(cur.lastrowid or 0)


def unallow(book: Casebook, ctx: Context, entry_id: int, reason: str) -> bool:
    """Take an entry off the allowlist; False when there is no such entry."""
    reason = _text(reason, "a reason", required=True)
    with book.transaction() as con:
        row = con.execute(
            "SELECT entity_kind, entity, account_id FROM allowlist WHERE entry_id = ?",
            (entry_id,),
        ).fetchone()
        if row is None:
            return False
        con.execute("DELETE FROM allowlist WHERE entry_id = ?", (entry_id,))
        audit.append(
            con,
            event="allowlist_remove",
            entity_kind=row[0],
            entity_id=row[1],
            account_id=row[2],
            detail={"entry_id": entry_id},
            reason=reason,
            **ctx.actor(),
        )
    return True


def account_case(book: Casebook, account_id: str) -> dict[str, Any]:
    """Everything decided about one account: verdicts, actions and allowlist entries (newest
    first), the latest verdict, the action in force on the account and on each key."""
    verdicts = [
        dict(r)
        for r in book.rows(
            """SELECT verdict_id, ts, analyst, verdict, note, scan_id FROM analyst_verdicts
               WHERE entity_kind = 'account' AND entity_id = ? ORDER BY verdict_id DESC""",
            (account_id,),
        )
    ]
    actions = [
        dict(r)
        for r in book.rows(
            """SELECT action_id, ts, actor, api_key_id, action, reason FROM actions
               WHERE account_id = ? ORDER BY action_id DESC""",
            (account_id,),
        )
    ]
    now = now_text()
    allowlist = [
        dict(r) | {"in_force": r["expires_at"] is None or r["expires_at"] > now}
        for r in book.rows(
            """SELECT entry_id, entity_kind, entity, reason, expires_at, added_by, added_at
               FROM allowlist WHERE account_id = ? OR (entity_kind = 'account' AND entity = ?)
               ORDER BY entry_id DESC""",
            (account_id, account_id),
        )
    ]
    in_force: dict[str, str] = {}
    for a in reversed(actions):  # oldest first: the latest per target wins
        target = a["api_key_id"] or ""
        if a["action"] == "reinstate":
            in_force.pop(target, None)
        else:
            in_force[target] = a["action"]
    return {
        "verdict": verdicts[0]["verdict"] if verdicts else None,
        "action": in_force.get(""),
        "key_actions": {k: v for k, v in in_force.items() if k},
        "allowlisted": any(e["in_force"] for e in allowlist),
        "verdicts": verdicts,
        "actions": actions,
        "allowlist": allowlist,
    }


def risk_facts(book: Casebook, account_id: str) -> dict[str, Any] | None:
    """What a gateway needs about an account, in two indexed queries: the latest verdict, the
    action in force on the account and on each key, the allowlist entry in force (and until
    when). None when the casebook has never heard of the account."""
    now = now_text()
    row = book.one(
        """SELECT
             (SELECT verdict FROM analyst_verdicts WHERE entity_kind = 'account'
                AND entity_id = ?1 ORDER BY verdict_id DESC LIMIT 1),
             (SELECT count(*) FROM allowlist WHERE (account_id = ?1 OR
                (entity_kind = 'account' AND entity = ?1)) AND (expires_at IS NULL OR expires_at > ?2)),
             (SELECT max(coalesce(expires_at, '~')) FROM allowlist WHERE (account_id = ?1 OR
                (entity_kind = 'account' AND entity = ?1)) AND (expires_at IS NULL OR expires_at > ?2)),
             (SELECT count(*) FROM allowlist WHERE account_id = ?1 OR
                (entity_kind = 'account' AND entity = ?1))""",
        (account_id, now),
    )
    assert row is not None
    in_force: dict[str, str] = {}
    acted = False
    for key, action in book.rows(
        "SELECT api_key_id, action FROM actions WHERE account_id = ? ORDER BY action_id",
        (account_id,),
    ):
        acted = True
        if action == "reinstate":
            in_force.pop(key or "", None)
        else:
            in_force[key or ""] = action
    verdict, allowed, until, ever_allowed = row
    if verdict is None and not acted and not ever_allowed:
        return None
    return {
        "verdict": verdict,
        "action": in_force.get(""),
        "key_actions": {k: v for k, v in in_force.items() if k},
        "allowlisted": bool(allowed),
        "allowlisted_until": None if until in (None, "~") else until,
    }
