"""`dataflux mcp`: the catalog's MCP server over stdio, for a desktop assistant or an IDE
that starts it as a subprocess. It reads the catalog in process (no service needed) and
acts as one principal: an API key's user (DATAFLUX_MCP_KEY, else DATAFLUX_API_KEY), a
local account named with --user (whoever can run this can read DATAFLUX_HOME anyway, as
for `dataflux users`), or in open mode the laptop's owner. Stdout carries the protocol
only; logs go to stderr."""

from __future__ import annotations

import logging
import sys

from dataflux_pipeline.accounts.principals import OPEN, Principal
from dataflux_pipeline.settings import Settings


class NoPrincipal(Exception):
    """Who to act as cannot be decided; the message tells the user what to pass."""


def acting(svc, user: str | None, key: str | None):
    """A function giving the principal for each call (checked again every time, so a
    revoked key or a disabled account stops working without a restart)."""
    from dataflux_pipeline.accounts.users import get_user, principal_for
    from dataflux_pipeline.serving.security import Unauthorized

    def by_user() -> Principal:
        found = get_user(svc.db, user)
        if found is None or found.disabled:
            raise Unauthorized(f"no enabled account named {user!r}")
        return principal_for(svc.db, found, token_id="mcp-stdio")

    def by_key() -> Principal:
        return svc.auth.authenticate({"x-api-key": key})

    def open_mode() -> Principal:
        if not svc.auth.open_mode():
            raise Unauthorized("accounts exist now: restart with --user NAME or DATAFLUX_MCP_KEY")
        return OPEN

    if user:
        by_user()
        return by_user
    if key:
        by_key()
        return by_key
    if not svc.auth.open_mode():
        raise NoPrincipal(
            "this catalog has accounts: pass --user NAME, or set DATAFLUX_MCP_KEY to an API "
            "key (`POST /auth/keys`)"
        )
    return open_mode


def service(settings: Settings):
    """The same Service object `dataflux serve` builds, without the HTTP app."""
    from dataflux_pipeline.serving.deps import Service
    from dataflux_pipeline.serving.search import Searcher
    from dataflux_pipeline.serving.security import Authenticator

    searcher = Searcher(settings)
    auth = Authenticator(settings, searcher.catalog.catalog.db)
    return Service(settings=settings, searcher=searcher, auth=auth)


def serve_stdio(settings: Settings, user: str | None) -> int:
    from dataflux_pipeline.serving.mcp.server import build_server
    from dataflux_pipeline.serving.security import Unauthorized

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    svc = service(settings)
    try:
        local = acting(svc, user, settings.mcp_key or settings.api_key)
    except (NoPrincipal, Unauthorized) as exc:
        print(f"dataflux mcp: {exc}", file=sys.stderr)
        return 2
    build_server(svc, local).run("stdio")
    return 0
