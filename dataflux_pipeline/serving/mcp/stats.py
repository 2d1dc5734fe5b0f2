"""catalog_stats: what the caller's part of the catalog holds, so an agent can answer "how
much do we have" and "what failed" without listing everything. Counted from the
service's catalog snapshot after the same visibility filter every list applies."""

from __future__ import annotations

from typing import Annotated, Any

import polars as pl
from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from dataflux_pipeline.accounts import collections
from dataflux_pipeline.serving.mcp.calls import Caller, Tools, tool_errors
from dataflux_pipeline.serving.mcp.reading import READ_ONLY
from dataflux_pipeline.serving.routes import assets as routes_assets
from dataflux_pipeline.serving.views import STATES

TIMED = ["video", "audio"]


def stats(tools: Tools, caller: Caller, failures: int) -> dict[str, Any]:
    svc, principal = tools.svc, caller.principal
    snap = svc.catalog.snapshot()
    df = snap.assets
    if not principal.unrestricted:
        df = df.filter(pl.col("asset_id").is_in(list(snap.visible_ids(principal))))
    df = df.with_columns(
        pl.col("status").replace_strict(STATES, default="processing").alias("state")
    )
    queued = routes_assets.list_assets(
        svc, principal, limit=1, offset=0, status=["queued"], media_type=None, mime_type=None
    ).total
    timed = df.filter(pl.col("media_type").is_in(TIMED))
    by_media = {
        m: {"assets": n, "hours": round((h or 0.0) / 3600, 3)}
        for m, n, h in df.group_by("media_type")
        .agg(pl.len(), pl.col("duration_s").sum())
        .sort("media_type", nulls_last=True)
        .iter_rows()
    }
    failed = (
        df.filter(pl.col("state") == "failed")
        .sort("arrived_at", descending=True, nulls_last=True)
        .select("asset_id", "file_name", "error")
    )
    states = dict(df.group_by("state").len().sort("state").iter_rows())
    return {
        "assets": df.height,
        "queued_uploads": queued,
        "by_state": states | ({"queued": queued} if queued else {}),
        "by_media_type": by_media,
        "media_hours": round((timed["duration_s"].sum() or 0.0) / 3600, 3),
        "failures": {"total": failed.height, "latest": failed.head(failures).to_dicts()},
        "collections": len(collections.visible(svc.db, principal)),
        "spaces": svc.index.spaces(),
    }


def register(server: MCPServer, tools: Tools) -> None:
    @server.tool(annotations=READ_ONLY)
    @tool_errors
    def catalog_stats(
        ctx: Context,
        failures: Annotated[
            int, Field(ge=0, le=100, description="How many of the latest failures to list.")
        ] = 10,
    ) -> dict[str, Any]:
        """Totals of the catalog you can see: assets by state (completed, processing,
        failed, skipped, queued uploads) and by media type, hours of audio and video,
        the latest failures with their reasons, your collections, and the embedding
        spaces similar can compare in."""
        caller = tools.caller(ctx)
        tools.need(caller, "assets:read")
        return stats(tools, caller, failures)
