"""GET /assets/{asset_id}/history: what happened to an asset, for its page: every analysis
of it (which run, which analyzer versions, how it ended) from the `analyses` table, and
the catalog's events (seen, renamed, shared, re-analysis asked for...)."""

from __future__ import annotations

import json
from typing import Any

import polars as pl
from fastapi import APIRouter, Depends
from sqlalchemy import select

from dataflux_pipeline.catalog.access import owns
from dataflux_pipeline.catalog.models import Asset, Event
from dataflux_pipeline.serving.deps import AUTH_RESPONSES, Svc, Who, require, resolve_asset
from dataflux_pipeline.storage.tables import PARTITION_COLUMN

router = APIRouter(
    tags=["catalog"], dependencies=[Depends(require("assets:read"))], responses=AUTH_RESPONSES
)
MAX_EVENTS = 200


def _json(text: str | None) -> Any:
    try:
        return json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}


@router.get("/assets/{asset_id}/history", responses={404: {}})
def history(asset_id: str, svc: Svc, principal: Who) -> dict[str, Any]:
    """Analyses newest first (`current` marks the one search serves) and events newest
    first; who did what is shown to the asset's owners and admins only."""
    asset_id = resolve_asset(svc, asset_id, principal)
    tables = svc.catalog.tables
    analyses: list[dict[str, Any]] = []
    if tables.files("analyses"):
        rows = (
            tables.scan("analyses")
            .filter(pl.col("asset_id") == asset_id)
            .sort("analyzed_at", descending=True, nulls_last=True)
            .collect()
        )
        analyses = rows.to_dicts()
    insider = principal.unrestricted or owns(svc.live, asset_id, principal.readers)
    with svc.live.reading() as s:
        asset = s.get(Asset, asset_id)
        events = list(
            s.scalars(
                select(Event)
                .where(Event.asset_id == asset_id)
                .order_by(Event.at.desc(), Event.id.desc())
                .limit(MAX_EVENTS)
            )
        )
        current = asset.analysis_partition if asset else None
        run = asset.analysis_run if asset else None
    return {
        "asset_id": asset_id,
        "current_run": run,
        "analyses": [
            {
                "partition": a[PARTITION_COLUMN],
                "current": a[PARTITION_COLUMN] == current,
                "status": a["status"],
                "error": a["error"],
                "analyzed_at": a["analyzed_at"],
                "seconds": a.get("seconds"),
                "analyzers": _json(a["analyzers"]),
            }
            for a in analyses
        ],
        "events": [
            {
                "at": e.at,
                "kind": e.kind,
                "path": e.path if insider else None,
                "actor": e.actor if insider else None,
                "run_id": e.run_id,
                "detail": e.detail if insider else {},
            }
            for e in events
        ],
    }
