"""GET /health (open; details only for a caller with credentials, or in open mode) and
GET /metrics (Prometheus text; the `metrics` scope, or DATAFLUX_METRICS_TOKEN, which a
Prometheus scrape config sends as its bearer token)."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from dataflux_pipeline import __version__
from dataflux_pipeline.serving.auth import refusal, scopes_of
from dataflux_pipeline.serving.deps import Svc
from dataflux_pipeline.serving.schemas import Health, SpaceHealth

router = APIRouter(tags=["operations"])


def _headers(request: Request) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


@router.get("/health", response_model=Health, response_model_exclude_none=True)
def health(request: Request, svc: Svc) -> Health:
    """Up or not; with credentials (or in open mode) index versions, rows and catalog size."""
    keys = svc.settings.api_keys
    mode = "keys" if keys else "open"
    if keys and refusal(keys, _headers(request)) is not None:
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
    )


@router.get("/metrics", response_class=Response, responses={401: {}, 403: {}})
def metrics(request: Request, svc: Svc) -> Response:
    """Request counts and latency histograms per route, index rows and versions."""
    settings = svc.settings
    headers = _headers(request)
    token = settings.metrics_token
    bearer = headers.get("authorization", "").removeprefix("Bearer ").strip()
    if token and bearer and hmac.compare_digest(token.encode(), bearer.encode()):
        pass
    elif settings.api_keys or token:
        why = refusal(settings.api_keys, headers) if settings.api_keys else "a token is required"
        if why is not None:
            raise HTTPException(401, why, {"WWW-Authenticate": "Bearer"})
        presented = headers.get("x-api-key") or bearer
        if "metrics" not in (scopes_of(settings.api_keys, presented) or []):
            raise HTTPException(403, "this API key lacks the 'metrics' scope")
    return Response(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)
