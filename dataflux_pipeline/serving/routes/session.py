"""Cookie sessions for the web pages. A page's script never holds a token: signing in sets
an HttpOnly `dataflux_session` cookie (the access token), an HttpOnly refresh cookie that
only these routes receive, and a readable `dataflux_csrf` cookie whose value the page
sends back as `X-CSRF-Token` on every change (serving.security checks it). All three are
SameSite=Strict, so another site's page cannot make the browser send them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from dataflux_pipeline.accounts import audit
from dataflux_pipeline.accounts.tokens import Issued, TokenError
from dataflux_pipeline.accounts.users import user_by_id
from dataflux_pipeline.serving.deps import Service, Svc, address
from dataflux_pipeline.serving.routes.auth import sign_in
from dataflux_pipeline.serving.security import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Unauthorized,
    cross_site,
)

REFRESH_COOKIE = "dataflux_refresh"
REFRESH_PATH = "/auth/session"  # the refresh cookie goes to these routes and no others
router = APIRouter(prefix="/auth/session", tags=["accounts"])


class WebSession(BaseModel):
    name: str
    role: str
    csrf_token: str
    expires_in: int


def _set_cookies(
    response: Response, request: Request, svc: Service, issued: Issued, csrf: str
) -> None:
    secure = request.url.scheme == "https"
    refresh_ttl = svc.settings.refresh_token_ttl_s
    common = {"secure": secure, "samesite": "strict"}
    response.set_cookie(
        SESSION_COOKIE, issued.access_token, max_age=issued.expires_in, httponly=True, **common
    )
    response.set_cookie(
        REFRESH_COOKIE,
        issued.refresh_token,
        max_age=refresh_ttl,
        path=REFRESH_PATH,
        httponly=True,
        **common,
    )
    response.set_cookie(CSRF_COOKIE, csrf, max_age=refresh_ttl, httponly=False, **common)


def _clear_cookies(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, samesite="strict", httponly=True)
    response.delete_cookie(REFRESH_COOKIE, path=REFRESH_PATH, samesite="strict", httponly=True)
    response.delete_cookie(CSRF_COOKIE, samesite="strict")


def _headers(request: Request) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


@router.post("", response_model=WebSession, responses={401: {}, 429: {}})
def open_session(
    request: Request,
    response: Response,
    svc: Svc,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> WebSession:
    """Sign in with a name and password (the same checks and slow-down as /auth/token).
    Only from this site's own page: a form elsewhere could sign the browser in as its
    author, whose account would then get what the person uploads."""
    if cross_site(_headers(request)):
        raise HTTPException(403, "sign in from this site's own sign-in page")
    pair = sign_in(request, svc, form)
    claims = svc.auth.sessions.verify_access(pair.access_token)
    user = user_by_id(svc.db, int(claims["sub"]))
    csrf = svc.auth.csrf_token(user.id)
    issued = Issued(pair.access_token, pair.refresh_token, pair.expires_in)
    _set_cookies(response, request, svc, issued, csrf)
    return WebSession(name=user.name, role=user.role, csrf_token=csrf, expires_in=pair.expires_in)


@router.post("/refresh", response_model=WebSession, responses={401: {}})
def refresh_session(request: Request, response: Response, svc: Svc) -> WebSession | Response:
    """New cookies for the refresh cookie (used up, as with /auth/refresh); 401 clears
    them."""
    presented = request.cookies.get(REFRESH_COOKIE)
    try:
        if not presented:
            raise TokenError("no session to refresh; sign in")
        svc.auth.check_csrf(_headers(request), request.cookies, _refresh_owner(svc, presented))
        issued, user_id = svc.auth.sessions.refresh(presented)
    except (TokenError, Unauthorized) as exc:
        refused = JSONResponse({"error": "unauthorized", "detail": str(exc)}, status_code=401)
        _clear_cookies(refused)
        return refused
    user = user_by_id(svc.db, user_id)
    csrf = request.cookies[CSRF_COOKIE]
    _set_cookies(response, request, svc, issued, csrf)
    return WebSession(name=user.name, role=user.role, csrf_token=csrf, expires_in=issued.expires_in)


@router.delete("", status_code=204, response_class=Response, responses={401: {}})
def close_session(request: Request, svc: Svc) -> Response:
    """Sign out: both tokens are revoked and the cookies cleared. Works with an expired
    access cookie too (the refresh cookie names the session)."""
    access = request.cookies.get(SESSION_COOKIE)
    claims = None
    if access:
        try:
            claims = svc.auth.sessions.verify_access(access)
        except TokenError:
            claims = None
    refresh = request.cookies.get(REFRESH_COOKIE)
    if claims is not None or refresh:
        user_id = int(claims["sub"]) if claims else _refresh_owner(svc, refresh)
        try:
            svc.auth.check_csrf(_headers(request), request.cookies, user_id)
        except Unauthorized as exc:
            raise HTTPException(401, str(exc)) from exc
        svc.auth.sessions.revoke(refresh, claims)
        who = user_by_id(svc.db, user_id) if user_id is not None else None
        actor = f"user:{who.name}" if who else "user:?"
        audit.record(svc.db, actor, "sign_out", None, address(request))
    response = Response(status_code=204)
    _clear_cookies(response)
    return response


def _refresh_owner(svc: Service, refresh: str | None) -> int | None:
    from dataflux_pipeline.accounts.models import RefreshToken

    if not refresh:
        return None
    with svc.db.reading() as s:
        row = s.get(RefreshToken, refresh.partition(".")[0])
        return row.user_id if row is not None else None
