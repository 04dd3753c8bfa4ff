"""The server-rendered pages: login, campaigns, search, account, allowlist, audit, users, API.

Forms post back with the session's CSRF token and answer with a redirect (post/redirect/get);
htmx boosts links and forms so a page changes without a full reload.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from stillwatch.engine.casebook import ACTIONS, ALLOW_KINDS, VERDICTS
from stillwatch.errors import UsageError
from stillwatch.web import api, casework, sessions
from stillwatch.web import users as user_admin
from stillwatch.web.app import page
from stillwatch.web.auth import Principal, login_csrf_token, same
from stillwatch.web.context import LOGIN_COOKIE, require, server
from stillwatch.web.storeview import CAMPAIGN_STATUSES

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Principal, Depends(require("viewer"))]
Analyst = Annotated[Principal, Depends(require("analyst"))]
Admin = Annotated[Principal, Depends(require("admin"))]
FormText = Annotated[str, Form(max_length=4000)]


def _see(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _account_url(account_id: str, **query: str) -> str:
    url = "/accounts/" + quote(account_id, safe="")
    return url + ("?" + "&".join(f"{k}={quote(v)}" for k, v in query.items()) if query else "")


def _login_page(request: Request, error: str = "", status: int = 200) -> Response:
    sw = server(request)
    cookie = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = page(
        request,
        "login.html",
        {"login_csrf": login_csrf_token(sw.secret, cookie), "error": error},
        status,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        cookie,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/login",
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    sw = server(request)
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    if not cookie or not same(csrf_token, login_csrf_token(sw.secret, cookie)):
        return _login_page(request, "the login form expired; please try again", 403)
    response = _see("/campaigns")
    try:
        sessions.log_in(request, response, username, password)
    except HTTPException as exc:
        failed = _login_page(request, str(exc.detail), exc.status_code)
        failed.headers.update(exc.headers or {})
        return failed
    return response


@router.post("/logout")
def logout(request: Request, who: Viewer) -> Response:
    response = _see("/login")
    sessions.log_out(request, response, who)
    return response


@router.get("/")
def home(who: Viewer) -> Response:
    return _see("/campaigns")


@router.get("/campaigns", response_class=HTMLResponse)
def campaigns(request: Request, who: Viewer, filters: api.CampaignQuery) -> Response:
    sw = server(request)
    listing = sw.view.campaigns(**asdict(filters))
    verdicts = casework.campaign_verdicts(sw.book)
    for c in listing["campaigns"]:
        c["verdict"] = verdicts.get(c["campaign_id"])
    min_score, sort, order = filters.min_score, filters.sort, filters.order
    query = {
        "status": filters.status,
        "q": filters.q,
        "min_score": "" if min_score is None else str(min_score),
    }
    return page(
        request,
        "campaigns.html",
        listing
        | {"filters": query, "sort": sort, "order": order, "statuses": CAMPAIGN_STATUSES,
           "sort_url": lambda col: "/campaigns?" + urlencode(
               query | {"sort": col, "order": "asc" if sort == col and order == "desc" else "desc"})},
    )  # fmt: skip


def _campaign_or_404(request: Request, campaign_id: str) -> dict[str, Any]:
    sw = server(request)
    found = sw.view.campaign(campaign_id, sw.config.graph_max_nodes)
    if found is None:
        raise HTTPException(404, f"unknown campaign {campaign_id!r} (latest scan)")
    return found


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
def campaign_page(request: Request, campaign_id: str, who: Viewer) -> Response:
    from stillwatch.report import svg

    facts = _campaign_or_404(request, campaign_id)
    cid = facts["campaign"]["campaign_id"]
    pictures = {
        "daily": svg.daily_chart(facts["daily"], f"{cid}: exchanges per day"),
        "rhythm": svg.heatmap(facts["rhythm"]["campaign"], "Exchanges by hour of the week (UTC)"),
    }
    graph = facts["graph"] | {"layout": "cose"}
    return page(
        request,
        "campaign.html",
        {
            "f": facts,
            "c": facts["campaign"],
            "graph": graph,
            "svg": pictures,
            "case": casework.campaign_case(server(request).book, campaign_id),
            "verdicts": VERDICTS,
            "actions": ACTIONS,
            "may_act": who.may("analyst"),
        },
    )


@router.post("/campaigns/{campaign_id}/verdict")
def campaign_verdict(
    request: Request,
    campaign_id: str,
    who: Analyst,
    verdict: Annotated[str, Form(max_length=20)],
    note: FormText,
) -> Response:
    sw = server(request)
    found = sw.view.campaign_member_ids(campaign_id)
    if found is None:
        raise HTTPException(404, f"unknown campaign {campaign_id!r} (latest scan)")
    casework.record_verdict(
        sw.book, sw.context(request, who), "campaign", campaign_id, verdict, note, found[0]
    )
    sw.notify()
    return _see("/campaigns/" + quote(campaign_id, safe=""))


@router.post("/campaigns/{campaign_id}/action")
def campaign_action(
    request: Request,
    campaign_id: str,
    who: Analyst,
    action: Annotated[str, Form(max_length=20)],
    reason: FormText,
    members: Annotated[str, Form(max_length=10)] = "all",
) -> Response:
    if members not in ("all", "core"):
        raise UsageError(f"members {members!r}: expected all or core")
    sw = server(request)
    found = sw.view.campaign_member_ids(campaign_id, core_only=members == "core")
    if found is None:
        raise HTTPException(404, f"unknown campaign {campaign_id!r} (latest scan)")
    casework.take_campaign_action(
        sw.book, sw.context(request, who), campaign_id, found[0], found[1], action, reason
    )
    sw.notify()
    return _see("/campaigns/" + quote(campaign_id, safe=""))


@router.get("/search", response_class=HTMLResponse)
def search(request: Request, who: Viewer, q: str = "") -> Response:
    q = q[:512]
    result = server(request).view.search(q) if q.strip() else {"query": "", "accounts": []}
    return page(request, "search.html", {"result": result})


@router.get("/accounts/{account_id}", response_class=HTMLResponse)
def account(request: Request, account_id: str, who: Viewer, reveal: bool = False) -> Response:
    reveal = api._reveal_allowed(request, who, account_id, reveal)
    found = api._account_or_404(request, account_id, reveal=reveal)
    sw = server(request)
    graph = sw.view.neighbourhood(account_id, sw.config.graph_max_nodes) if found["store"] else None
    return page(
        request,
        "account.html",
        {
            "account_id": account_id,
            "graph": graph,
            "store": found["store"],
            "case": found["case"],
            "verdicts": VERDICTS,
            "actions": ACTIONS,
            "may_act": who.may("analyst"),
        },
    )


@router.post("/accounts/{account_id}/verdict")
def account_verdict(
    request: Request,
    account_id: str,
    who: Analyst,
    verdict: Annotated[str, Form(max_length=20)],
    note: FormText,
) -> Response:
    api._account_or_404(request, account_id, reveal=False)
    sw = server(request)
    casework.record_verdict(sw.book, sw.context(request, who), "account", account_id, verdict, note)
    sw.notify()
    return _see(_account_url(account_id))


@router.post("/accounts/{account_id}/action")
def account_action(
    request: Request,
    account_id: str,
    who: Analyst,
    action: Annotated[str, Form(max_length=20)],
    reason: FormText,
    api_key_id: Annotated[str, Form(max_length=512)] = "",
) -> Response:
    api._account_or_404(request, account_id, reveal=False)
    sw = server(request)
    casework.take_action(
        sw.book, sw.context(request, who), account_id, action, reason, api_key_id or None
    )
    sw.notify()
    return _see(_account_url(account_id))


@router.post("/accounts/{account_id}/allow")
def account_allow(
    request: Request,
    account_id: str,
    who: Analyst,
    reason: FormText,
    days: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    api._account_or_404(request, account_id, reveal=False)
    if days.strip() and not days.strip().isdigit():
        raise UsageError(f"days {days!r}: a whole number, or empty for no expiry")
    sw = server(request)
    casework.allow(
        sw.book,
        sw.context(request, who),
        "account",
        account_id,
        reason,
        days=int(days) if days.strip() else None,
    )
    sw.notify()
    return _see(_account_url(account_id))


@router.get("/allowlist", response_class=HTMLResponse)
def allowlist(request: Request, who: Viewer) -> Response:
    rows = server(request).book.rows("SELECT * FROM allowlist ORDER BY entry_id DESC")
    return page(
        request,
        "allowlist.html",
        {"entries": [dict(r) for r in rows], "kinds": ALLOW_KINDS, "may_act": who.may("analyst")},
    )


@router.post("/allowlist")
def allowlist_add(
    request: Request,
    who: Analyst,
    entity_kind: Annotated[str, Form(max_length=20)],
    entity: Annotated[str, Form(max_length=512)],
    reason: FormText,
    account_id: Annotated[str, Form(max_length=512)] = "",
    days: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    if days.strip() and not days.strip().isdigit():
        raise UsageError(f"days {days!r}: a whole number, or empty for no expiry")
    sw = server(request)
    casework.allow(
        sw.book,
        sw.context(request, who),
        entity_kind,
        entity,
        reason,
        account_id=account_id or None,
        days=int(days) if days.strip() else None,
    )
    sw.notify()
    return _see("/allowlist")


@router.post("/allowlist/{entry_id}/remove")
def allowlist_remove(request: Request, entry_id: int, who: Analyst, reason: FormText) -> Response:
    sw = server(request)
    if not casework.unallow(sw.book, sw.context(request, who), entry_id, reason):
        raise HTTPException(404, f"no allowlist entry {entry_id}")
    sw.notify()
    return _see("/allowlist")


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, who: Admin, before: int | None = None) -> Response:
    rows = server(request).book.rows(
        "SELECT * FROM audit WHERE audit_id < ? ORDER BY audit_id DESC LIMIT 200",
        (before or 2**62,),
    )
    return page(request, "audit.html", {"events": [dict(r) for r in rows]})


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, who: Admin) -> Response:
    return page(
        request,
        "users.html",
        {"users": user_admin.list_users(server(request).book), "new_token": None},
    )


@router.post("/users")
def users_add(
    request: Request,
    who: Admin,
    username: Annotated[str, Form(max_length=64)],
    role: Annotated[str, Form(max_length=20)],
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    sw = server(request)
    user_admin.add_user(
        sw.book,
        username,
        role,
        password,
        **sw.context(request, who).actor(),
    )
    sw.notify()
    return _see("/users")


@router.post("/users/{username}/remove")
def users_remove(request: Request, username: str, who: Admin) -> Response:
    sw = server(request)
    if not user_admin.remove_user(
        sw.book,
        username,
        **sw.context(request, who).actor(),
    ):
        raise HTTPException(404, f"no user {username!r}")
    sw.notify()
    return _see("/users")


@router.post("/users/{username}/token", response_class=HTMLResponse)
def users_token(
    request: Request,
    username: str,
    who: Admin,
    label: Annotated[str, Form(max_length=100)] = "token",
) -> Response:
    sw = server(request)
    if not sw.book.one("SELECT 1 FROM users WHERE username = ?", (username,)):
        raise HTTPException(404, f"no user {username!r}")
    token = user_admin.issue_token(
        sw.book,
        username,
        label,
        **sw.context(request, who).actor(),
    )
    sw.notify()
    # Shown once, on this response only (never in a URL, so never in a log or history).
    return page(
        request,
        "users.html",
        {
            "users": user_admin.list_users(sw.book),
            "new_token": {"username": username, "token": token},
        },
    )


@router.get("/api", response_class=HTMLResponse)
def api_docs(request: Request, who: Viewer) -> Response:
    schema = api.openapi(request)
    operations: list[dict[str, Any]] = []
    for path, methods in schema.get("paths", {}).items():
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            ref = body.get("schema", {}).get("$ref", "")
            operations.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "parameters": [
                        f"{p['name']} ({p['in']}{', required' if p.get('required') else ''})"
                        for p in op.get("parameters", [])
                    ],
                    "body": ref.rsplit("/", 1)[-1],
                }
            )
    return page(
        request,
        "api.html",
        {"operations": operations, "schemas": schema.get("components", {}).get("schemas", {})},
    )
