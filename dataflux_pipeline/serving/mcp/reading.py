"""Read tools: search, similar, get_asset, get_thumbnail. Each calls the REST route's own
function with the caller's principal, so the MCP endpoint filters, resolves ids and
refuses exactly as the API does, and only reshapes the answer for an agent: the best
moment of a hit first, time codes and pages, plain snippets, links."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, Image, MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from dataflux_pipeline.serving.deps import ASSET_ID, resolve_asset
from dataflux_pipeline.serving.mcp.calls import Tools, tool_errors
from dataflux_pipeline.serving.routes import assets as routes_assets
from dataflux_pipeline.serving.routes import search as routes_search
from dataflux_pipeline.serving.schemas import (
    AssetDetail,
    AssetHit,
    Filters,
    MediaType,
    SearchRequest,
    SearchResponse,
    SegmentHit,
    SimilarRequest,
)

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
FEATURE_ROWS = 10  # per table in get_asset; a long video has thousands of window rows
SNIPPET_CHARS = 240

AssetRef = Annotated[
    str,
    Field(
        min_length=8,
        max_length=80,
        description="An asset id as search returns it (64 hex characters), or a unique "
        "prefix of 8 or more of them.",
    ),
]
Limit = Annotated[int, Field(ge=1, le=50, description="How many assets to return.")]
MediaTypes = Annotated[
    list[MediaType] | None, Field(description="Only these media types; default all.")
]


def link(base: str, asset_id: str, start: float | None = None, page: int | None = None):
    """The asset's page in the web interface, opened at the moment (`?t=` seconds, where
    the player seeks; `?page=`), so a person can open what the agent cites."""
    url = f"{base}/asset/{asset_id}"
    if start is not None:
        return f"{url}?t={round(start, 3)}"
    return f"{url}?page={page}" if page is not None else url


def moment(asset_id: str, seg: SegmentHit, base: str) -> dict[str, Any]:
    out: dict[str, Any] = {"segment_id": seg.segment_id, "kind": seg.kind}
    if seg.start_s is not None:
        out["start_s"] = round(seg.start_s, 3)
        out["end_s"] = None if seg.end_s is None else round(seg.end_s, 3)
    if seg.page is not None:
        out["page"] = seg.page
    snippet = (seg.highlight or "").replace("<mark>", "").replace("</mark>", "")
    if not snippet and seg.text:
        text = " ".join(seg.text.split())
        snippet = text[:SNIPPET_CHARS] + ("…" if len(text) > SNIPPET_CHARS else "")
    if snippet:
        out["snippet"] = snippet
    out["link"] = link(base, asset_id, seg.start_s, seg.page)
    if seg.thumbnail:
        out["thumbnail"] = f"dataflux://thumbnail/{seg.segment_id}"
    return out


def hit(h: AssetHit, base: str) -> dict[str, Any]:
    """One asset: its best moment's fields at the top, further moments below."""
    out: dict[str, Any] = {
        "asset_id": h.asset_id,
        "file_name": h.file_name,
        "media_type": h.media_type,
        "score": round(h.score, 4),
    }
    if h.metadata.get("duration_s") is not None:
        out["duration_s"] = round(h.metadata["duration_s"], 3)
    moments = [moment(h.asset_id, s, base) for s in h.segments]
    if moments:
        out |= moments[0]
        if len(moments) > 1:
            out["more_moments"] = moments[1:]
    else:
        out["link"] = link(base, h.asset_id)
    out["resource"] = f"dataflux://asset/{h.asset_id}"
    return out


def asset_view(detail: AssetDetail, base: str) -> dict[str, Any]:
    """get_asset's answer: the catalog row with its metadata parsed, what analysis found
    (segment counts per kind, feature rows, capped), sidecars, near-duplicates,
    collections; the text itself is paged by get_transcript and get_text."""
    asset = dict(detail.asset)
    if isinstance(asset.get("metadata"), str):  # the catalog keeps it as JSON text
        asset["metadata"] = json.loads(asset["metadata"])
    asset_id = asset["asset_id"]
    kinds: dict[str, int] = {}
    for s in detail.segments:
        kinds[s["kind"]] = kinds.get(s["kind"], 0) + 1
    features = {
        table: {"total": len(rows), "rows": rows[:FEATURE_ROWS]}
        for table, rows in detail.features.items()
    }
    return {
        "state": detail.state,
        "asset": asset,
        "uris": detail.uris,
        "link": link(base, asset_id),
        "thumbnail": f"dataflux://thumbnail/{asset_id}" if detail.thumbnail_url else None,
        "segments": {
            "total": len(detail.segments),
            "by_kind": kinds,
            "text_segments": sum(1 for s in detail.segments if s.get("text")),
        },
        "features": features,
        "sidecars": detail.sidecars,
        "near_duplicates": detail.near_duplicates,
        "collections": detail.collections,
        "access": detail.access,
    }


def register(server: MCPServer, tools: Tools) -> None:
    svc = tools.svc

    @server.tool(annotations=READ_ONLY)
    @tool_errors
    def search(
        ctx: Context,
        query: Annotated[
            str, Field(min_length=1, max_length=1000, description="What to find, in words.")
        ],
        media_types: MediaTypes = None,
        filters: Annotated[
            Filters | None, Field(description="Narrow by file, time or audio properties.")
        ] = None,
        mode: Annotated[
            Literal["hybrid", "vector", "text"],
            Field(
                description="hybrid: words and meaning (default); text: the exact words "
                "(names, codes); vector: meaning only (paraphrases)."
            ),
        ] = "hybrid",
        limit: Limit = 10,
        offset: Annotated[int, Field(ge=0, le=10_000, description="Hits to skip (paging).")] = 0,
        moments_per_asset: Annotated[
            int, Field(ge=1, le=10, description="Matching moments per asset.")
        ] = 3,
        collection_id: Annotated[
            int | None, Field(ge=1, description="Search only within this collection.")
        ] = None,
    ) -> dict[str, Any]:
        """Search the media catalog (video, audio, images, documents) in natural language.
        Hits come best first, one per asset: asset_id, file_name, media_type, score, and
        the best matching moment (start_s/end_s in seconds for audio and video, page for
        documents) with a text snippet and a link to that moment; more_moments holds
        further matches. Page with offset (next_offset). Follow up with get_transcript or
        get_text to quote, get_asset for details, similar for more like a hit."""
        caller = tools.caller(ctx)
        tools.need(caller, "assets:read")
        req = SearchRequest(
            query=query,
            media_types=media_types,
            filters=filters,
            mode=mode,
            limit=limit,
            offset=offset,
            segments_per_asset=moments_per_asset,
            collection_id=collection_id,
        )
        response = routes_search.search(req, svc, caller.principal)
        found = SearchResponse.model_validate_json(response.body)
        shown = offset + len(found.results)
        return {
            "query": query,
            "mode": found.mode,
            "total": found.total,
            "hits": [hit(h, caller.base_url) for h in found.results],
            "next_offset": shown if shown < found.total else None,
        }

    @server.tool(annotations=READ_ONLY)
    @tool_errors
    def similar(
        ctx: Context,
        asset_id: Annotated[
            str | None,
            Field(max_length=80, description="Find items like this asset (id or prefix)."),
        ] = None,
        segment_id: Annotated[
            str | None,
            Field(
                max_length=120,
                description="Or like this moment: a segment_id from a search hit "
                "(<asset id>:<kind>:<index>).",
            ),
        ] = None,
        space: Annotated[
            str | None,
            Field(
                max_length=32,
                description="Compare in one embedding space (catalog_stats lists them: "
                "text, audio, visual, clip...); default every space the item has.",
            ),
        ] = None,
        media_types: MediaTypes = None,
        limit: Limit = 10,
    ) -> dict[str, Any]:
        """More like this: assets near an asset or one of its moments (a segment_id from a
        search hit), by meaning of their text, by look (visual) or by sound (audio).
        Give exactly one of asset_id or segment_id. Hits have the same shape as search's."""
        caller = tools.caller(ctx)
        tools.need(caller, "assets:read")
        req = SimilarRequest(
            asset_id=asset_id,
            segment_id=segment_id,
            space=space,
            media_types=media_types,
            limit=limit,
            segments_per_asset=1,
        )
        found = routes_search.similar(req, svc, caller.principal)
        return {
            "source": found.source,
            "spaces": found.spaces,
            "hits": [hit(h, caller.base_url) for h in found.results],
        }

    @server.tool(annotations=READ_ONLY)
    @tool_errors
    def get_asset(ctx: Context, asset_id: AssetRef) -> dict[str, Any]:
        """One asset in detail: file, type, size, duration, state (queued, processing,
        completed, failed), technical metadata, counts of what analysis found per kind
        (shots, keyframes, cues, pages...), feature rows, sidecar files, near-duplicate
        images and the collections holding it. Use get_transcript / get_text for its
        text and get_thumbnail to look at it."""
        caller = tools.caller(ctx)
        tools.need(caller, "assets:read")
        detail = routes_assets.get_asset(asset_id, svc, caller.principal)
        return asset_view(detail, caller.base_url)

    @server.tool(annotations=READ_ONLY)
    @tool_errors
    def get_thumbnail(
        ctx: Context,
        item_id: Annotated[
            str,
            Field(
                min_length=8,
                max_length=120,
                description="An asset id (or prefix): its first keyframe or picture; or a "
                "segment_id of a keyframe, image or page.",
            ),
        ],
    ) -> Image:
        """Look at an asset: its first keyframe, picture or page rendering as a JPEG image,
        or a given moment's (the thumbnail of a search hit's segment_id)."""
        caller = tools.caller(ctx)
        tools.need(caller, "assets:read")
        return Image(path=thumbnail_file(tools, item_id, caller))


def thumbnail_file(tools: Tools, item_id: str, caller) -> str:
    """The thumbnail's path, through the REST route's checks (visible, inside the store);
    an asset may be named by a prefix, a segment only by its full id."""
    if ":" not in item_id and not ASSET_ID.fullmatch(item_id):
        item_id = resolve_asset(tools.svc, item_id, caller.principal)
    return str(routes_assets.get_thumbnail(item_id, tools.svc, caller.principal).path)
