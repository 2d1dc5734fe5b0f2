"""get_transcript and get_text: an asset's text in reading order, time-coded and paged, so
an agent can quote it exactly. Both read the segments of the asset's current analysis
through the service's CatalogView after resolving the id among what the caller may read,
as GET /assets/{id} does."""

from __future__ import annotations

from typing import Annotated, Any

import polars as pl
from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from dataflux_pipeline.serving.deps import resolve_asset
from dataflux_pipeline.serving.mcp.calls import Caller, Tools, tool_errors
from dataflux_pipeline.serving.mcp.reading import READ_ONLY, AssetRef, link

SPOKEN = ("cue", "transcript")  # subtitle cues and speech-to-text pieces
Offset = Annotated[int, Field(ge=0, le=1_000_000, description="Segments to skip (paging).")]
PageSize = Annotated[int, Field(ge=1, le=200, description="Segments to return.")]


def text_segments(
    tools: Tools, caller: Caller, asset_ref: str, kinds: list[str] | None
) -> tuple[str, pl.DataFrame]:
    """The asset's segments that hold text, in reading order: by time, then page, then
    position. Without `kinds`, a PDF's chunks give way to its pages (the same words)."""
    asset_id = resolve_asset(tools.svc, asset_ref, caller.principal)
    rows = tools.svc.catalog.analysis_rows("segments", asset_id)
    if not rows.height:
        return asset_id, rows
    rows = rows.filter(pl.col("text").is_not_null() & (pl.col("text").str.strip_chars() != ""))
    if kinds:
        rows = rows.filter(pl.col("kind").is_in(kinds))
    elif (rows["kind"] == "page").any():
        rows = rows.filter(pl.col("kind") != "chunk")
    order = ["start_s", "page", "kind", "index"]
    return asset_id, rows.sort(order, nulls_last=True)


def text_page(
    tools: Tools, caller: Caller, asset_ref: str, kinds, offset: int, limit: int
) -> dict[str, Any]:
    asset_id, rows = text_segments(tools, caller, asset_ref, kinds)
    page = rows.slice(offset, limit).to_dicts() if rows.height else []
    items = []
    for r in page:
        item: dict[str, Any] = {"segment_id": r["segment_id"], "kind": r["kind"]}
        if r.get("start_s") is not None:
            item["start_s"] = round(r["start_s"], 3)
            item["end_s"] = None if r.get("end_s") is None else round(r["end_s"], 3)
        if r.get("page") is not None:
            item["page"] = r["page"]
        item["text"] = r["text"].strip()
        item["link"] = link(caller.base_url, asset_id, r.get("start_s"), r["page"])
        items.append(item)
    shown = offset + len(items)
    row = tools.svc.catalog.row(asset_id) or {}
    return {
        "asset_id": asset_id,
        "file_name": row.get("file_name"),
        "total": rows.height,
        "items": items,
        "next_offset": shown if shown < rows.height else None,
    }


def register(server: MCPServer, tools: Tools) -> None:
    @server.tool(annotations=READ_ONLY)
    @tool_errors
    def get_transcript(
        ctx: Context, asset_id: AssetRef, offset: Offset = 0, limit: PageSize = 50
    ) -> dict[str, Any]:
        """What is said in an audio or video asset: subtitle cues and speech-to-text
        pieces in time order, each with start_s/end_s in seconds, its text and a link to
        the moment. Paged: pass next_offset back as offset until it is null. An asset with
        no speech or subtitles has total 0; get_text has its other text."""
        caller = tools.caller(ctx)
        tools.need(caller, "assets:read")
        return text_page(tools, caller, asset_id, list(SPOKEN), offset, limit)

    @server.tool(annotations=READ_ONLY)
    @tool_errors
    def get_text(
        ctx: Context,
        asset_id: AssetRef,
        kinds: Annotated[
            list[str] | None,
            Field(
                max_length=20,
                description="Only these segment kinds: page, chunk (documents), cue, "
                "transcript (speech), ocr (text in pictures), description (sidecar "
                "metadata), tag; default all that hold text.",
            ),
        ] = None,
        offset: Offset = 0,
        limit: PageSize = 50,
    ) -> dict[str, Any]:
        """All the text of any asset in reading order: document pages (or chunks of text
        files), subtitle cues and speech with start_s/end_s, text read from pictures, and
        sidecar descriptions; each item has its page or time and a link. Paged: pass
        next_offset back as offset until it is null. Text files' chunks overlap slightly."""
        caller = tools.caller(ctx)
        tools.need(caller, "assets:read")
        return text_page(tools, caller, asset_id, kinds, offset, limit)
