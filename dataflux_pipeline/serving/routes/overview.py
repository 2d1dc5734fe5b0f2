"""GET /stats/overview: counts by media type and state, media hours, ingest throughput
over time, and (for admins) storage used and the top and zero-result queries."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from dataflux_pipeline.serving.deps import AUTH_RESPONSES, Svc, Who, require

router = APIRouter(
    tags=["catalog"], dependencies=[Depends(require("assets:read"))], responses=AUTH_RESPONSES
)


@router.get("/stats/overview")
def overview(
    svc: Svc, principal: Who, days: Annotated[int, Query(ge=1, le=365)] = 30
) -> dict[str, Any]:
    """Figures over what the caller may read; `storage` and `queries` only for those who
    see everything (admins, deployment keys, open mode)."""
    visible = svc.catalog.visible_ids(principal)
    return svc.overview.compute(visible, principal.unrestricted, days)
