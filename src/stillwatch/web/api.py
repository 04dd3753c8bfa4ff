"""The JSON API under ``/api/v1/``: what the pages show and do, for scripts and gateways.

Authenticate with ``Authorization: Bearer <token>`` (``stillwatch users token NAME``), or with
the session cookie plus ``X-CSRF-Token`` from a browser. The schema is ``/api/v1/openapi.json``,
drawn for people at ``/api``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from stillwatch.engine.casebook import ACTIONS, ALLOW_KINDS, VERDICTS
from stillwatch.web import audit, casework, sessions
from stillwatch.web import users as user_admin
from stillwatch.web.auth import Principal
from stillwatch.web.context import ServerState, require, server

router = APIRouter(prefix="/api/v1", tags=["api"])
Viewer = Annotated[Principal, Depends(require("viewer"))]
Analyst = Annotated[Principal, Depends(require("analyst"))]
Admin = Annotated[Principal, Depends(require("admin"))]
Id = Annotated[str, Field(min_length=1, max_length=512)]
Text = Annotated[str, Field(min_length=1, max_length=4000)]


class LoginBody(BaseModel):
    username: Annotated[str, Field(max_length=64)]
    password: Annotated[str, Field(max_length=1024)]


class VerdictBody(BaseModel):
    verdict: Literal["confirmed", "dismissed"]
    note: Text


class ActionBody(BaseModel):
    action: Literal["observe", "throttle", "challenge", "suspend", "ban", "reinstate"]
    reason: Text
    api_key_id: Id | None = None


class AllowBody(BaseModel):
    entity_kind: Literal["account", "api_key", "ip"]
    entity: Id
    reason: Text
    account_id: Id | None = None
    days: Annotated[int, Field(ge=1, le=3650)] | None = None


class UserBody(BaseModel):
    username: Annotated[str, Field(max_length=64)]
    role: Literal["viewer", "analyst", "admin"]
    password: Annotated[str, Field(min_length=12, max_length=1024)]


class TokenBody(BaseModel):
    label: Annotated[str, Field(max_length=100)] = "token"


assert set(VerdictBody.model_fields["verdict"].annotation.__args__) == set(VERDICTS)  # type: ignore[union-attr]
assert set(ActionBody.model_fields["action"].annotation.__args__) == set(ACTIONS)  # type: ignore[union-attr]
assert set(AllowBody.model_fields["entity_kind"].annotation.__args__) == set(ALLOW_KINDS)  # type: ignore[union-attr]


@router.get("/health", summary="Liveness, without authentication")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.post("/login", summary="Start a session (sets the cookie; returns the CSRF token)")
async def login(body: LoginBody, request: Request, response: Response) -> dict[str, Any]:
    who, csrf = sessions.log_in(request, response, body.username, body.password)
    return {"username": who.username, "role": who.role, "csrf_token": csrf}


@router.post("/logout", summary="End this session")
async def logout(request: Request, response: Response, who: Viewer) -> dict[str, str]:
    sessions.log_out(request, response, who)
    return {"status": "logged out"}


@router.get("/me", summary="Who you are")
async def me(who: Viewer) -> dict[str, str]:
    return {"username": who.username, "role": who.role, "via": who.via}


@router.get("/openapi.json", summary="This API's OpenAPI schema", include_in_schema=False)
async def openapi_schema(request: Request, who: Viewer) -> dict[str, Any]:
    return openapi(request)


def openapi(request: Request) -> dict[str, Any]:
    app = request.app
    if app.openapi_schema is None:
        app.openapi_schema = get_openapi(
            title=app.title, version=app.version, summary=app.summary, routes=app.routes
        )
    schema: dict[str, Any] = app.openapi_schema
    return schema


def _account_or_404(request: Request, account_id: str, *, reveal: bool) -> dict[str, Any]:
    sw = server(request)
    stored = sw.view.account(account_id, reveal=reveal)
    case = casework.account_case(sw.book, account_id)
    if stored is None and not (case["verdicts"] or case["actions"] or case["allowlist"]):
        raise HTTPException(404, f"unknown account {account_id!r}")
    return {"store": stored, "case": case}


def _reveal_allowed(request: Request, who: Principal, account_id: str, reveal: bool) -> bool:
    """Prompt text only for analysts and admins who ask; every reveal is audited."""
    if not reveal:
        return False
    if not who.may("analyst"):
        from stillwatch.web.context import Forbidden

        raise Forbidden("prompt text needs the analyst role")
    sw = server(request)
    with sw.book.transaction() as con:
        audit.append(
            con,
            event="prompt_reveal",
            actor=who.username,
            actor_role=who.role,
            entity_kind="account",
            entity_id=account_id,
            account_id=account_id,
            client_ip=request.client.host if request.client else None,
        )
    return True


@router.get("/accounts/{account_id}", summary="An account: store row, activity, decisions")
def account(request: Request, account_id: str, who: Viewer) -> dict[str, Any]:
    found = _account_or_404(request, account_id, reveal=False)
    stored = found["store"] or {}
    stored.pop("exchanges", None)
    return {"account_id": account_id, **stored, "case": found["case"]}


@router.get("/accounts/{account_id}/exchanges", summary="A sample of the account's exchanges")
def account_exchanges(
    request: Request, account_id: str, who: Viewer, reveal: bool = False
) -> dict[str, Any]:
    reveal = _reveal_allowed(request, who, account_id, reveal)
    found = _account_or_404(request, account_id, reveal=reveal)
    stored = found["store"] or {"exchanges": []}
    return {
        "account_id": account_id,
        "prompt_revealed": reveal,
        "exchanges": stored["exchanges"],
    }


@router.get(
    "/accounts/{account_id}/graph",
    summary="What the account uses and who shares it: nodes and edges (graph_max_nodes)",
)
def account_graph(request: Request, account_id: str, who: Viewer) -> dict[str, Any]:
    found = _account_or_404(request, account_id, reveal=False)
    if found["store"] is None:
        return {"nodes": [], "edges": [], "aggregated": 0}
    sw = server(request)
    return sw.view.neighbourhood(account_id, sw.config.graph_max_nodes)


@router.get(
    "/accounts/{account_id}/risk",
    summary="For a gateway: verdict, action in force, allowlist, latest score",
)
async def risk(request: Request, account_id: str, who: Viewer) -> dict[str, Any]:
    payload = risk_payload(server(request), account_id)
    if payload is None:
        raise HTTPException(404, f"unknown account {account_id!r}")
    return payload


NO_DECISION: dict[str, Any] = {
    "verdict": None, "action": None, "key_actions": {}, "allowlisted": False,
    "allowlisted_until": None,
}  # fmt: skip


def risk_payload(sw: ServerState, account_id: str) -> dict[str, Any] | None:
    """The risk answer, or None for an account neither the store nor the casebook knows.
    Served by this route and by the gateway's fast path (``app.GatewayFastPath``) alike."""
    snapshot = sw.risk.snapshot
    known = account_id in snapshot.known
    facts = casework.risk_facts(sw.book, account_id)
    if facts is None and not known:
        return None
    score = snapshot.scores.get(account_id)
    return {
        "account_id": account_id,
        "seen_in_store": known,
        "score": score[0] if score else None,
        "score_reasons": score[1] if score else None,
        "scan_id": score[2] if score else None,
        "scanned": snapshot.scanned,
        **(facts or NO_DECISION),
    }


@router.post("/accounts/{account_id}/verdicts", status_code=201, summary="Record a verdict")
def add_verdict(
    request: Request, account_id: str, body: VerdictBody, who: Analyst
) -> dict[str, Any]:
    _account_or_404(request, account_id, reveal=False)
    sw = server(request)
    vid = casework.record_verdict(
        sw.book, sw.context(request, who), "account", account_id, body.verdict, body.note
    )
    sw.notify()
    return {"verdict_id": vid, "case": casework.account_case(sw.book, account_id)}


@router.post("/accounts/{account_id}/actions", status_code=201, summary="Take an action")
def add_action(request: Request, account_id: str, body: ActionBody, who: Analyst) -> dict[str, Any]:
    _account_or_404(request, account_id, reveal=False)
    sw = server(request)
    aid = casework.take_action(
        sw.book, sw.context(request, who), account_id, body.action, body.reason, body.api_key_id
    )
    sw.notify()
    return {"action_id": aid, "case": casework.account_case(sw.book, account_id)}


@router.get("/search", summary="Accounts by id or prefix, IP, CIDR prefix, key, fingerprint")
def search(
    request: Request, q: Annotated[str, Query(max_length=512)], who: Viewer
) -> dict[str, Any]:
    return server(request).view.search(q)


@router.get("/allowlist", summary="The allowlist the scan honours")
async def allowlist(request: Request, who: Viewer) -> dict[str, Any]:
    rows = server(request).book.rows("SELECT * FROM allowlist ORDER BY entry_id DESC")
    return {"entries": [dict(r) for r in rows]}


@router.post("/allowlist", status_code=201, summary="Add an allowlist entry")
def allowlist_add(request: Request, body: AllowBody, who: Analyst) -> dict[str, Any]:
    sw = server(request)
    entry = casework.allow(
        sw.book,
        sw.context(request, who),
        body.entity_kind,
        body.entity,
        body.reason,
        account_id=body.account_id,
        days=body.days,
    )
    sw.notify()
    return {"entry_id": entry}


@router.delete("/allowlist/{entry_id}", summary="Remove an allowlist entry")
def allowlist_remove(
    request: Request, entry_id: int, who: Analyst, reason: Annotated[str, Query(max_length=4000)]
) -> dict[str, Any]:
    sw = server(request)
    if not casework.unallow(sw.book, sw.context(request, who), entry_id, reason):
        raise HTTPException(404, f"no allowlist entry {entry_id}")
    sw.notify()
    return {"removed": entry_id}


class CampaignActionBody(BaseModel):
    action: Literal["observe", "throttle", "challenge", "suspend", "ban", "reinstate"]
    reason: Text
    members: Literal["all", "core"] = "all"


@dataclass(frozen=True)
class CampaignFilters:
    """Which of the latest scan's campaigns to list and in what order (the query of the
    campaign list, page and API alike); ``StoreView.campaigns`` checks the values."""

    status: str
    q: str
    min_score: float | None
    sort: str
    order: str


def campaign_filters(
    status: Annotated[str, Query(max_length=20)] = "reported",
    q: Annotated[str, Query(max_length=200)] = "",
    min_score: Annotated[float | None, Query(ge=0, le=1)] = None,
    sort: Annotated[str, Query(max_length=20)] = "exchanges",
    order: Annotated[str, Query(max_length=4)] = "desc",
) -> CampaignFilters:
    return CampaignFilters(status, q, min_score, sort, order)


CampaignQuery = Annotated[CampaignFilters, Depends(campaign_filters)]


@router.get("/campaigns", summary="The latest scan's campaigns (none before a scan)")
def campaigns(request: Request, who: Viewer, filters: CampaignQuery) -> dict[str, Any]:
    return server(request).view.campaigns(**asdict(filters))


@router.get(
    "/campaigns/{campaign_id}",
    summary="A campaign of the latest scan: figures, evidence, graph (graph_max_nodes), "
    "timeline, infrastructure, rhythm, decisions",
)
def campaign(request: Request, campaign_id: str, who: Viewer) -> dict[str, Any]:
    sw = server(request)
    found = sw.view.campaign(campaign_id, sw.config.graph_max_nodes, member_limit=100)
    if found is None:
        raise HTTPException(404, f"unknown campaign {campaign_id!r} (latest scan)")
    return found | {"case": casework.campaign_case(sw.book, campaign_id)}


@router.get("/campaigns/{campaign_id}/members", summary="A campaign's member accounts, paged")
def campaign_members(
    request: Request,
    campaign_id: str,
    who: Viewer,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    found = server(request).view.campaign_members(campaign_id, limit=limit, offset=offset)
    if found is None:
        raise HTTPException(404, f"unknown campaign {campaign_id!r} (latest scan)")
    return found


@router.post("/campaigns/{campaign_id}/verdicts", status_code=201, summary="Verdict on a campaign")
def add_campaign_verdict(
    request: Request, campaign_id: str, body: VerdictBody, who: Analyst
) -> dict[str, Any]:
    sw = server(request)
    found = sw.view.campaign_member_ids(campaign_id)
    if found is None:
        raise HTTPException(404, f"unknown campaign {campaign_id!r} (latest scan)")
    vid = casework.record_verdict(
        sw.book, sw.context(request, who), "campaign", campaign_id, body.verdict, body.note,
        found[0],
    )  # fmt: skip
    sw.notify()
    return {"verdict_id": vid, "case": casework.campaign_case(sw.book, campaign_id)}


@router.post(
    "/campaigns/{campaign_id}/actions",
    status_code=201,
    summary="An action on every (or every core) member of a campaign",
)
def add_campaign_action(
    request: Request, campaign_id: str, body: CampaignActionBody, who: Analyst
) -> dict[str, Any]:
    sw = server(request)
    found = sw.view.campaign_member_ids(campaign_id, core_only=body.members == "core")
    if found is None:
        raise HTTPException(404, f"unknown campaign {campaign_id!r} (latest scan)")
    done = casework.take_campaign_action(
        sw.book, sw.context(request, who), campaign_id, found[0], found[1], body.action,
        body.reason,
    )  # fmt: skip
    sw.notify()
    return done | {"case": casework.campaign_case(sw.book, campaign_id)}


@router.get("/audit", summary="The audit log, newest first")
async def audit_log(
    request: Request, who: Admin, limit: int = 100, before: int | None = None
) -> dict[str, Any]:
    limit = max(1, min(limit, 1000))
    rows = server(request).book.rows(
        "SELECT * FROM audit WHERE audit_id < ? ORDER BY audit_id DESC LIMIT ?",
        (before or 2**62, limit),
    )
    return {"events": [audit.event_payload(r) | {"client_ip": r["client_ip"]} for r in rows]}


@router.get("/users", summary="Users and their roles")
async def users(request: Request, who: Admin) -> dict[str, Any]:
    return {"users": user_admin.list_users(server(request).book)}


@router.post("/users", status_code=201, summary="Add a user")
def user_add(request: Request, body: UserBody, who: Admin) -> dict[str, str]:
    sw = server(request)
    user_admin.add_user(
        sw.book,
        body.username,
        body.role,
        body.password,
        **sw.context(request, who).actor(),
    )
    sw.notify()
    return {"username": body.username, "role": body.role}


@router.delete("/users/{username}", summary="Remove a user, their sessions and tokens")
def user_remove(request: Request, username: str, who: Admin) -> dict[str, str]:
    sw = server(request)
    if not user_admin.remove_user(
        sw.book,
        username,
        **sw.context(request, who).actor(),
    ):
        raise HTTPException(404, f"no user {username!r}")
    sw.notify()
    return {"removed": username}


@router.post("/users/{username}/tokens", status_code=201, summary="Issue an API token (shown once)")
def user_token(request: Request, username: str, body: TokenBody, who: Admin) -> dict[str, str]:
    sw = server(request)
    if not sw.book.one("SELECT 1 FROM users WHERE username = ?", (username,)):
        raise HTTPException(404, f"no user {username!r}")
    token = user_admin.issue_token(
        sw.book,
        username,
        body.label,
        **sw.context(request, who).actor(),
    )
    sw.notify()
    return {"username": username, "token": token}
