"""Requests are judged before their bodies are read: a client without valid credentials
gets 401 and one announcing too large a body 413 without the server spooling a byte, a
body that runs past its limit (no Content-Length, or a lying one) is cut off at the limit,
and at most a few large bodies are on disk at once, so temp space stays bounded."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass

from starlette.exceptions import HTTPException

from dataflux_pipeline.settings import Settings

JSON_BODY_LIMIT = 1 << 20  # search requests and the like
# how credentials are obtained (the cookie session's routes check their CSRF token)
SIGN_IN_PATHS = ("/auth/token", "/auth/refresh", "/auth/session", "/auth/session/refresh")
MULTIPART_OVERHEAD = 64 * 1024


class BodyTooLarge(HTTPException):
    """Raised from inside a body read; FastAPI passes an HTTPException through as is."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is over the limit of {limit} bytes")


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    limit: int
    large: bool  # a file upload: holds a slot while its body is read


def body_routes(settings: Settings) -> list[Route]:
    upload = min(settings.upload_max_bytes, settings.max_file_bytes) + MULTIPART_OVERHEAD
    query_file = settings.query_file_max_bytes + MULTIPART_OVERHEAD
    # an MCP `ingest` carries a file as base64 inside JSON (4/3 of its size); the SDK
    # itself reads at most 4 MiB of a message
    mcp = min(upload, 4 << 20)
    return [
        Route("POST", "/assets", upload, True),
        Route("POST", "/search/by-file", query_file, True),
        Route("POST", "/mcp", mcp, True),
    ]


async def _reply(send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    phrase = {401: "unauthorized", 413: "content_too_large", 503: "service_unavailable"}
    body = json.dumps({"error": phrase.get(status, "error"), "detail": detail}).encode()
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyGuard:
    """ASGI middleware. `authenticate(headers) -> str | None` returns why a request with
    these headers would be refused (None: let it through to the route's own checks)."""

    def __init__(
        self, app, settings: Settings, authenticate: Callable[[dict[str, str]], str | None]
    ) -> None:
        self.app = app
        self.routes = body_routes(settings)
        self.authenticate = authenticate
        self.slots = asyncio.Semaphore(settings.max_concurrent_uploads)

    def _route(self, scope) -> tuple[int, bool]:
        for r in self.routes:
            if scope["method"] == r.method and scope["path"].rstrip("/") == r.path:
                return r.limit, r.large
        return JSON_BODY_LIMIT, False

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = None if scope["path"] in SIGN_IN_PATHS else self.authenticate(headers)
        if refusal is not None:
            return await _reply(send, 401, refusal, {"WWW-Authenticate": "Bearer"})
        limit, large = self._route(scope)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return await _reply(send, 413, f"the request body is over the limit of {limit} bytes")
        if not large:
            return await self.app(scope, _capped(receive, limit), send)
        if self.slots.locked():
            return await _reply(
                send, 503, "too many uploads at once; try again shortly", {"Retry-After": "5"}
            )
        async with self.slots:
            await self.app(scope, _capped(receive, limit), send)


def _capped(receive, limit: int):
    """`receive` that stops a body once it passes `limit` bytes, whatever was declared."""
    seen = 0

    async def wrapped():
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return wrapped
