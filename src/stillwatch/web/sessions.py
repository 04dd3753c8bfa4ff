"""Logging in and out, for the login page and ``POST /api/v1/login`` alike.

The session cookie is HttpOnly, SameSite=Lax, and Secure whenever the request came over https
(directly, or through a proxy named in ``web_trusted_proxies``). Failed logins count against
the client address and the user name; past ``login_max_failures`` in the window the answer is
429 with Retry-After, before the password is even checked.
"""

from __future__ import annotations

from fastapi import HTTPException, Request, Response

from stillwatch.web import audit, auth
from stillwatch.web.auth import Principal
from stillwatch.web.context import SESSION_COOKIE, client_ip, server


def log_in(
    request: Request, response: Response, username: str, password: str
) -> tuple[Principal, str]:
    """Check the password, start a session, set its cookie; returns the user and the
    session's CSRF token. 401 for a wrong name or password, 429 when rate-limited."""
    sw = server(request)
    ip = client_ip(request) or "unknown"
    keys = ("ip:" + ip, "user:" + username)
    wait = sw.limiter.retry_after(*keys)
    if wait:
        raise HTTPException(
            429, f"too many failed logins; try again in {wait} s", {"Retry-After": str(wait)}
        )
    role = auth.check_password(sw.book, username, password)
    if role is None:
        sw.limiter.failed(*keys)
        with sw.book.transaction() as con:
            audit.append(
                con,
                event="login_failed",
                actor=None,
                actor_role=None,
                entity_kind="user",
                entity_id=username[:64],
                client_ip=ip,
                notify=sw.webhook is not None,
            )
        sw.notify()
        raise HTTPException(401, "wrong user name or password")
    sw.limiter.succeeded("user:" + username)
    token = auth.start_session(sw.book, username, sw.config.session_hours)
    who = auth.principal_for_session(sw.book, token)
    assert who is not None and who.session_sha256 is not None
    with sw.book.transaction() as con:
        audit.append(
            con,
            event="login",
            actor=username,
            actor_role=role,
            entity_kind="user",
            entity_id=username,
            client_ip=ip,
            notify=sw.webhook is not None,
        )
    sw.notify()
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=sw.config.session_hours * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    request.state.principal = who
    return who, auth.csrf_token(sw.secret, who.session_sha256)


def log_out(request: Request, response: Response, who: Principal) -> None:
    sw = server(request)
    if who.session_sha256:
        auth.end_session(sw.book, who.session_sha256)
    with sw.book.transaction() as con:
        audit.append(
            con,
            event="logout",
            entity_kind="user",
            entity_id=who.username,
            **sw.context(request, who).actor(),
        )
    sw.notify()
    response.delete_cookie(SESSION_COOKIE, path="/")
