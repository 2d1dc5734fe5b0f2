"""The FastAPI app. It reads the catalog and the index and never writes the pipeline's
tables; uploads go to the landing folder, where the sensor takes them."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dataflux_pipeline import __version__
from dataflux_pipeline.serving.deps import Service
from dataflux_pipeline.serving.guard import BodyGuard
from dataflux_pipeline.serving.mcp.http import METHODS as MCP_METHODS
from dataflux_pipeline.serving.mcp.http import McpEndpoint
from dataflux_pipeline.serving.metrics import Metrics
from dataflux_pipeline.serving.routes import admin as routes_admin
from dataflux_pipeline.serving.routes import assets as routes_assets
from dataflux_pipeline.serving.routes import auth as routes_auth
from dataflux_pipeline.serving.routes import collections as routes_collections
from dataflux_pipeline.serving.routes import events as routes_events
from dataflux_pipeline.serving.routes import feedback as routes_feedback
from dataflux_pipeline.serving.routes import history as routes_history
from dataflux_pipeline.serving.routes import media as routes_media
from dataflux_pipeline.serving.routes import ops as routes_ops
from dataflux_pipeline.serving.routes import overview as routes_overview
from dataflux_pipeline.serving.routes import people as routes_people
from dataflux_pipeline.serving.routes import search as routes_search
from dataflux_pipeline.serving.routes import session as routes_session
from dataflux_pipeline.serving.routes import sharing as routes_sharing
from dataflux_pipeline.serving.search import Searcher
from dataflux_pipeline.serving.security import Authenticator
from dataflux_pipeline.serving.web import install as install_web
from dataflux_pipeline.settings import Settings, get_settings

log = logging.getLogger(__name__)


def _finite(value):
    """JSON has no NaN or infinity: such numbers echoed back in an error become text."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _error(status: int, detail, headers=None) -> JSONResponse:
    try:
        phrase = HTTPStatus(status).phrase.lower().replace(" ", "_")
    except ValueError:
        phrase = "error"
    body = {"error": phrase, "detail": _finite(detail)}
    return JSONResponse(body, status_code=status, headers=headers)


def install_errors(app: FastAPI) -> None:
    """Every error is JSON: {"error": <status phrase>, "detail": <message or field errors>}."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail
        if exc.status_code == 422 and isinstance(detail, str):
            # the OpenAPI documents 422 as a list of field errors; keep every 422 that shape
            detail = [{"loc": ["body"], "msg": detail, "type": "value_error"}]
        return _error(exc.status_code, detail, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{k: e.get(k) for k in ("loc", "msg", "type")} for e in exc.errors()]
        return _error(422, errors)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return _error(500, f"internal error: {type(exc).__name__}")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    searcher = Searcher(settings)
    auth = Authenticator(settings, searcher.catalog.catalog.db)
    svc = Service(settings=settings, searcher=searcher, auth=auth, metrics=Metrics(searcher.index))
    mcp = McpEndpoint(svc)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.api_torch_threads:
            import torch

            # Requests run side by side: one thread each beats them fighting over cores.
            torch.set_num_threads(settings.api_torch_threads)
        searcher.query_vectors("warm-up")  # load the models before the first request
        searcher.catalog.snapshot()
        if auth.open_mode():
            log.warning(
                "open mode: no accounts, API keys or identity provider are configured, so "
                "anyone who can reach this port can read and change the catalog "
                "(create the first admin with `dataflux users add NAME --role admin`)"
            )
        async with mcp.running():
            yield

    app = FastAPI(
        title="DataFlux search",
        version=__version__,
        description="Search a media catalog built by the DataFlux pipeline. Sign in with "
        "POST /auth/token and send `Authorization: Bearer <token>`, or send an API key as "
        "`X-API-Key`; with no accounts configured the service is open (see /health).",
        lifespan=lifespan,
        docs_url=None,  # served by serving.web from bundled assets, so they work offline
        redoc_url=None,
    )
    install_errors(app)
    app.include_router(routes_search.router)
    app.include_router(routes_assets.router)
    app.include_router(routes_assets.upload_router)
    app.include_router(routes_sharing.router)
    app.include_router(routes_ops.router)
    app.include_router(routes_auth.router)
    app.include_router(routes_admin.router)
    app.include_router(routes_admin.audit_router)
    app.include_router(routes_collections.router)
    app.include_router(routes_feedback.router)
    app.include_router(routes_people.router)
    app.add_route("/mcp", mcp, methods=MCP_METHODS, include_in_schema=False)
    app.include_router(routes_session.router)
    app.include_router(routes_media.router)
    app.include_router(routes_history.router)
    app.include_router(routes_events.router)
    app.include_router(routes_overview.router)
    install_web(app)
    app.state.settings = settings
    app.state.service = svc
    app.add_middleware(BodyGuard, settings=settings, authenticate=auth.refusal)
    app.add_middleware(_MetricsMiddleware, metrics=svc.metrics)
    return app


class _MetricsMiddleware:
    def __init__(self, app, metrics: Metrics) -> None:
        self.app = metrics.middleware(app)

    async def __call__(self, scope, receive, send) -> None:
        await self.app(scope, receive, send)
