"""What every tool shares: who is calling, what they may do, and how a failure reaches the
agent. A failure the agent can correct (an unknown id, a bad filter, a missing scope)
becomes an MCP tool error whose text says what to change; anything else is logged and
answered with the SDK's generic tool error, so no call takes the server down."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import HTTPException
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from pydantic import ValidationError

from dataflux_pipeline.accounts.collections import CollectionError
from dataflux_pipeline.accounts.principals import Principal
from dataflux_pipeline.serving import similar as sim
from dataflux_pipeline.serving.deps import Service
from dataflux_pipeline.serving.security import Unauthorized
from dataflux_pipeline.serving.uploads import UploadError

F = TypeVar("F", bound=Callable[..., Any])
WHERE_IDS_COME_FROM = "ids come from the results of search, similar or list_collections"


class Invalid(Exception):
    """A request the agent can correct; the message says how."""


@dataclass(frozen=True)
class Caller:
    principal: Principal
    base_url: str  # the service, where links to a moment point


class Tools:
    """The REST routes' service objects, and who a call acts as: over HTTP the principal
    the /mcp endpoint authenticated for that request, over stdio (or in process) the
    fixed local one, asked again on every call so a revoked key stops at once."""

    def __init__(self, svc: Service, local: Callable[[], Principal]) -> None:
        self.svc = svc
        self.local = local

    def caller(self, ctx: Context) -> Caller:
        request = ctx.request_context.request
        if request is None:
            return Caller(self.local(), self.svc.settings.api_url.rstrip("/"))
        return Caller(request.state.principal, str(request.base_url).rstrip("/"))

    @staticmethod
    def need(caller: Caller, scope: str) -> None:
        p = caller.principal
        if not p.can(scope):
            raise PermissionError(
                f"{p.name} (role {p.role}) lacks the {scope!r} scope; ask an administrator "
                "for a role that has it"
            )


def _http_message(exc: HTTPException) -> str:
    detail = exc.detail
    if isinstance(detail, dict) and "candidates" in detail:
        shown = ", ".join(c[:16] for c in detail["candidates"][:10])
        return f"{detail.get('message', 'ambiguous id')}; give more characters of one of: {shown}"
    if isinstance(detail, list):
        detail = "; ".join(
            f"{'.'.join(map(str, e.get('loc', [])))}: {e.get('msg')}" for e in detail
        )
    if exc.status_code == 404:
        return f"{detail} ({WHERE_IDS_COME_FROM})"
    if exc.status_code == 403:
        return f"not allowed: {detail}"
    return str(detail)


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for e in exc.errors():
        where = ".".join(str(p) for p in e["loc"])
        parts.append(f"{where}: {e['msg']}" if where else e["msg"])
    return "invalid arguments: " + "; ".join(parts)


def explain(exc: Exception) -> str | None:
    """The agent-readable reason of an anticipated failure; None for a crash."""
    if isinstance(exc, HTTPException):
        return _http_message(exc)
    if isinstance(exc, ValidationError):
        return _validation_message(exc)
    if isinstance(exc, Unauthorized):
        return f"not signed in: {exc}"
    if isinstance(exc, PermissionError):
        return f"not allowed: {exc}"
    if isinstance(exc, CollectionError | sim.NotFound):
        return f"{exc} ({WHERE_IDS_COME_FROM})"
    if isinstance(exc, Invalid | sim.BadRequest | UploadError):
        return str(exc)
    return None


def tool_errors(fn: F) -> F:
    """Anticipated failures become tool errors the agent reads; crashes pass to the SDK,
    which logs them and answers a generic tool error."""

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ToolError:
            raise
        except Exception as exc:
            reason = explain(exc)
            if reason is None:
                raise
            raise ToolError(reason) from exc

    return wrapped  # type: ignore[return-value]


def resource_errors(fn: F) -> F:
    """The same for resources: what the caller may not see is 'not found', exactly like
    what does not exist."""

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ResourceError:
            raise
        except Exception as exc:
            reason = explain(exc)
            if reason is None:
                raise
            missing = isinstance(exc, HTTPException) and exc.status_code == 404
            raise (ResourceNotFoundError if missing else ResourceError)(reason) from exc

    return wrapped  # type: ignore[return-value]
