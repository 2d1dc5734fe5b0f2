"""Optional API keys with scopes: with none configured the API is open (a laptop, a
trusted network); with keys, every route needs one holding the route's scope, except
/health (details only with a key), /docs, /redoc and /openapi.json (the API's shape, no
data). docs/security.md lists who can reach what."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

SCOPES = ("search", "upload", "metrics")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key")
_bearer = HTTPBearer(auto_error=False, description="API key as a bearer token")


def scopes_of(keys: Mapping[str, list[str]], presented: str) -> list[str] | None:
    """Constant-time comparison against every key, so timing tells nothing about them."""
    found = None
    for key, scopes in keys.items():
        if hmac.compare_digest(key.encode(), presented.encode()):
            found = scopes
    return found


def refusal(keys: Mapping[str, list[str]], headers: Mapping[str, str]) -> str | None:
    """Why a request with these headers is refused before its body is read (None: it
    passes on to the route, whose dependency checks the scope)."""
    if not keys:
        return None
    presented = headers.get("x-api-key")
    auth = headers.get("authorization", "")
    if not presented and auth.lower().startswith("bearer "):
        presented = auth[7:].strip()
    if not presented:
        return "an API key is required (X-API-Key header)"
    if scopes_of(keys, presented) is None:
        return "unknown API key"
    return None


def require(scope: str) -> Callable:
    def dependency(
        request: Request,
        key: Annotated[str | None, Depends(_header)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        keys: Mapping[str, list[str]] = request.app.state.settings.api_keys
        if not keys:
            return
        presented = key or (bearer.credentials if bearer else None)
        if not presented:
            raise HTTPException(
                401, "an API key is required (X-API-Key header)", {"WWW-Authenticate": "Bearer"}
            )
        scopes = scopes_of(keys, presented)
        if scopes is None:
            raise HTTPException(401, "unknown API key", {"WWW-Authenticate": "Bearer"})
        if scope not in scopes:
            raise HTTPException(403, f"this API key lacks the {scope!r} scope")

    return dependency
