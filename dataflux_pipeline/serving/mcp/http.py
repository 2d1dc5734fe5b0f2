"""/mcp on the service: MCP's streamable HTTP transport behind the REST API's own
authentication. Every request must carry a bearer token or an API key (open mode
excepted, as for the API) holding `assets:read`; the principal is kept on the request,
where each tool call finds it, so a call sees what that principal sees through REST.

Stateless: each POST is served on its own (no server-side session to hijack or expire),
and answered with JSON. A browser Origin that is not allowed is refused, so a page
cannot reach a service on 127.0.0.1 through DNS rebinding."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings

from dataflux_pipeline.accounts.principals import Principal
from dataflux_pipeline.serving.deps import Service
from dataflux_pipeline.serving.mcp.server import build_server
from dataflux_pipeline.serving.security import Unauthorized

METHODS = ["GET", "POST", "DELETE"]


def _no_local() -> Principal:
    raise Unauthorized("send a bearer token or an API key with every /mcp request")


def origin_allowed(origin: str, allowed: list[str]) -> bool:
    for pattern in allowed:
        if origin == pattern:
            return True
        port = origin[len(pattern) - 1 :]
        if pattern.endswith(":*") and origin.startswith(pattern[:-1]) and port.isdigit():
            return True
    return False


async def _reply(send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"error": "mcp", "detail": detail}).encode()
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), *extra],
        }
    )
    await send({"type": "http.response.body", "body": body})


class McpEndpoint:
    """An ASGI app for the /mcp route; `running()` belongs in the app's lifespan (the SDK's
    session manager runs once per instance, so each lifespan gets a new one)."""

    def __init__(self, svc: Service) -> None:
        self.svc = svc
        self.server = build_server(svc, _no_local)
        self.manager: StreamableHTTPSessionManager | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        self.server.streamable_http_app(
            stateless_http=True,
            json_response=True,
            # Host names vary behind proxies; the Origin check below is what stops rebinding.
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        manager = self.server.session_manager
        async with manager.run():
            self.manager = manager
            try:
                yield
            finally:
                self.manager = None

    async def __call__(self, scope, receive, send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        origin = headers.get("origin")
        if origin and not origin_allowed(origin, self.svc.settings.mcp_allowed_origins):
            return await _reply(send, 403, f"origin {origin[:200]!r} may not call /mcp")
        try:
            principal = self.svc.auth.authenticate(headers)
        except Unauthorized as exc:
            return await _reply(send, 401, str(exc), {"WWW-Authenticate": "Bearer"})
        if not principal.can("assets:read"):
            return await _reply(send, 403, f"{principal.name} lacks the 'assets:read' scope")
        if self.manager is None:
            return await _reply(send, 503, "the MCP endpoint is not running (app lifespan)")
        scope.setdefault("state", {})["principal"] = principal
        await self.manager.handle_request(scope, receive, send)
