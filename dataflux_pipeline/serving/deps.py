"""What every route shares, in one place: the service state, who is asking (scopes), id
checks and prefixes, and the request-size guard."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi import Path as PathParam

from dataflux_pipeline.accounts.principals import LEGACY_SCOPES, Principal
from dataflux_pipeline.catalog import Catalog
from dataflux_pipeline.catalog.access import owns
from dataflux_pipeline.catalog.store import AmbiguousId
from dataflux_pipeline.db import Database
from dataflux_pipeline.serving.schemas import ROW_ID_MAX
from dataflux_pipeline.serving.search import Searcher
from dataflux_pipeline.serving.security import SAFE_METHODS, Authenticator, Unauthorized
from dataflux_pipeline.serving.views import CatalogView
from dataflux_pipeline.settings import Settings

ASSET_ID = re.compile(r"(?:[0-9a-f]{64}|unreadable-[0-9a-f]{48})")
ASSET_REF = re.compile(r"[0-9a-f]{8,64}|unreadable-[0-9a-f]{48}")
SEGMENT_ID = re.compile(r"(?:[0-9a-f]{64}|unreadable-[0-9a-f]{48}):[a-z_]{1,32}:\d{1,9}")
# every route that checks who is asking can answer these
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "no usable credentials"},
    403: {"description": "the credentials lack a scope, or only an owner may do this"},
    404: {"description": "no such thing, or not one the caller may see"},
    422: {"description": "the request does not parse"},
}


@dataclass
class Service:
    settings: Settings
    searcher: Searcher
    auth: Authenticator
    metrics: Any = None
    thumbnails: Path = field(init=False)

    def __post_init__(self) -> None:
        self.thumbnails = (self.settings.store / "thumbnails").resolve()

    @property
    def index(self):
        return self.searcher.index

    @property
    def catalog(self) -> CatalogView:
        return self.searcher.catalog

    @property
    def live(self) -> Catalog:
        return self.searcher.catalog.catalog

    @property
    def db(self) -> Database:
        """The app database: accounts, collections, feedback, audit."""
        return self.live.db

    @cached_property
    def registry(self):
        from dataflux_pipeline.analyzers import default_registry

        return default_registry(self.settings)

    @cached_property
    def moments(self):
        """Thumbnails of the matching moment for search hits (serving.moments)."""
        from dataflux_pipeline.serving.moments import Moments

        return Moments(self.catalog)

    @cached_property
    def queries(self):
        """The log of searches the overview page reads (serving.querylog)."""
        from dataflux_pipeline.serving.querylog import QueryLog

        return QueryLog(self.settings.home / "logs" / "queries")

    @cached_property
    def overview(self):
        """The overview page's figures (serving.overview)."""
        from dataflux_pipeline.serving.overview import Overview

        return Overview(self.catalog, self.queries, self.settings.home)


def service(request: Request) -> Service:
    return request.app.state.service


Svc = Annotated[Service, Depends(service)]
RowIdPath = Annotated[int, PathParam(ge=1, le=ROW_ID_MAX)]


def who(request: Request) -> Principal:
    """The principal of this request (decided once, then kept on the request); a cookie
    session's request that may change something must carry the CSRF token."""
    found = getattr(request.state, "principal", None)
    if found is None:
        headers = {k.lower(): v for k, v in request.headers.items()}
        unsafe = request.method not in SAFE_METHODS
        try:
            found = service(request).auth.authenticate(headers, request.cookies, unsafe)
        except Unauthorized as exc:
            raise HTTPException(401, str(exc), {"WWW-Authenticate": "Bearer"}) from exc
        request.state.principal = found
    return found


Who = Annotated[Principal, Depends(who)]


def require(scope: str) -> Callable[..., None]:
    """A route dependency: 403 unless the principal holds the scope."""
    scope = LEGACY_SCOPES.get(scope, scope)

    def dependency(principal: Who) -> None:
        if not principal.can(scope):
            raise HTTPException(403, f"{principal.name} lacks the {scope!r} scope")

    return dependency


def check_id(pattern: re.Pattern, value: str, what: str) -> None:
    if not pattern.fullmatch(value):
        raise HTTPException(422, f"{what} {value[:80]!r} is not a valid id")


def resolve_asset(svc: Service, ident: str, principal: Principal) -> str:
    """A full asset id, or a unique prefix of at least 8 hex characters (as in git),
    among the contents this principal may read: 409 lists the candidates of an ambiguous
    prefix, 404 when nothing matches, exactly as for an id that does not exist."""
    if not ASSET_REF.fullmatch(ident):
        raise HTTPException(
            422, f"asset id {ident[:80]!r} is not an id or a prefix of 8+ hex characters"
        )
    visible = svc.catalog.visible_ids(principal)
    if ASSET_ID.fullmatch(ident):
        if ident not in visible:
            raise HTTPException(404, f"asset {ident} not found")
        return ident
    try:
        found = svc.live.resolve(ident, among=visible)
    except AmbiguousId as exc:
        raise HTTPException(409, {"message": str(exc), "candidates": exc.candidates}) from exc
    if found is None:
        raise HTTPException(404, f"asset {ident} not found")
    return found


async def one_file(request: Request) -> None:
    """A form must carry one `file` part: two would leave the server choosing silently."""
    form = await request.form()
    if len(form.getlist("file")) != 1:
        raise HTTPException(422, "send exactly one `file` part per request")


def principal_label(db: Database, body) -> str:
    """`u:<id>` or `g:<id>` for a share request naming a user or a group."""
    from dataflux_pipeline.accounts.users import ensure_group, get_user

    if body.user is not None:
        user = get_user(db, body.user)
        if user is None or user.disabled:
            raise HTTPException(404, f"no user {body.user!r}")
        return f"u:{user.id}"
    return f"g:{ensure_group(db, body.group).id}"


def address(request: Request) -> str | None:
    return request.client.host if request.client else None


def owns_asset(svc: Service, asset_id: str, principal: Principal) -> bool:
    return principal.unrestricted or owns(svc.live, asset_id, principal.readers)


def must_own(svc: Service, asset_id: str, principal: Principal) -> None:
    if not owns_asset(svc, asset_id, principal):
        raise HTTPException(403, "only the asset's owners (or an admin) may do that")
