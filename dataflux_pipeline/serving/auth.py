"""Optional API keys with scopes: with none configured the API is open (a laptop, a
trusted network); with keys, every route but /health needs one holding the route's scope."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

SCOPES = ("search", "upload")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key")
_bearer = HTTPBearer(auto_error=False, description="API key as a bearer token")


def _scopes_of(keys: Mapping[str, list[str]], presented: str) -> list[str] | None:
    """Constant-time comparison against every key, so timing tells nothing about them."""
    found = None
    for key, scopes in keys.items():
        if hmac.compare_digest(key.encode(), presented.encode()):
            found = scopes
    return found


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
        scopes = _scopes_of(keys, presented)
        if scopes is None:
            raise HTTPException(401, "unknown API key", {"WWW-Authenticate": "Bearer"})
        if scope not in scopes:
            raise HTTPException(403, f"this API key lacks the {scope!r} scope")

    return dependency
