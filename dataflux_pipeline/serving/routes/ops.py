"""GET /health (open; details only for a caller with credentials, or in open mode) and
GET /metrics (Prometheus text; the `metrics:read` scope, or DATAFLUX_METRICS_TOKEN,
which a Prometheus scrape config sends as its bearer token)."""

from __future__ import annotations

import hmac
import os

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from dataflux_pipeline import __version__
from dataflux_pipeline.serving.deps import Svc
from dataflux_pipeline.serving.schemas import Health, SpaceHealth
from dataflux_pipeline.serving.security import Unauthorized

router = APIRouter(tags=["operations"])


def _caller(request: Request, svc):
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        return svc.auth.authenticate(headers, request.cookies)
    except Unauthorized:
        return None


@router.get("/health", response_model=Health, response_model_exclude_none=True)
def health(request: Request, svc: Svc) -> Health:
    """Up or not, and whether the service is open; with credentials (or in open mode)
    index versions, rows and the catalog size."""
    mode = "open" if svc.auth.open_mode() else "accounts"
    if _caller(request, svc) is None:
        return Health(status="ok", version=__version__, auth=mode)
    spaces = {}
    for space in svc.index.spaces():
        info = svc.index.info(space)
        spaces[space] = SpaceHealth(
            version=info["version"],
            rows=info["rows"],
            dim=info["dim"],
            indices=sorted(f"{i['type']}({','.join(i['columns'])})" for i in info["indices"]),
        )
    return Health(
        status="ok",
        version=__version__,
        auth=mode,
        index_rows={s: h.rows for s, h in spaces.items()},
        index=spaces,
        assets=svc.catalog.snapshot().assets.height,
        worker=os.getpid(),
    )


@router.get("/metrics", response_class=Response, responses={401: {}, 403: {}})
def metrics(request: Request, svc: Svc) -> Response:
    """Request counts and latency histograms per route, index rows and versions."""
    token = svc.settings.metrics_token
    auth = request.headers.get("authorization", "")
    bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    scraper = bool(token and bearer and hmac.compare_digest(token.encode(), bearer.encode()))
    if not scraper:
        caller = _caller(request, svc)
        if caller is None:
            raise HTTPException(
                401, "metrics need a token or a key", {"WWW-Authenticate": "Bearer"}
            )
        if not caller.can("metrics:read"):
            raise HTTPException(403, f"{caller.name} lacks the 'metrics:read' scope")
    return Response(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)
