"""GET /health (always open) and GET /metrics (Prometheus text format)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from dataflux_pipeline import __version__
from dataflux_pipeline.serving.deps import Svc
from dataflux_pipeline.serving.schemas import Health, SpaceHealth

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=Health)
def health(svc: Svc) -> Health:
    """Index versions and row counts per space, and the catalog size."""
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
        index_rows={s: h.rows for s, h in spaces.items()},
        index=spaces,
        assets=svc.catalog.snapshot().assets.height,
    )


@router.get("/metrics", response_class=Response)
def metrics(svc: Svc) -> Response:
    """Request counts and latency histograms per route, index rows and versions."""
    registry = svc.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
