"""Tools that change something: collections, re-analysis and ingest. Each checks the scope
the REST route's router requires, then calls that route's function with the caller's
principal, so ownership and visibility rules are the API's own."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import HTTPException
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from dataflux_pipeline.serving.deps import must_own, resolve_asset
from dataflux_pipeline.serving.mcp.calls import Tools, tool_errors
from dataflux_pipeline.serving.mcp.landing import land, opened
from dataflux_pipeline.serving.mcp.reading import READ_ONLY
from dataflux_pipeline.serving.routes import assets as routes_assets
from dataflux_pipeline.serving.routes import collections as routes_collections
from dataflux_pipeline.serving.uploads import safe_name

ADDS = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
AssetIds = Annotated[
    list[Annotated[str, Field(min_length=8, max_length=80)]],
    Field(
        min_length=1,
        max_length=50,
        description="Asset ids as search returns them, or unique prefixes of 8+ characters.",
    ),
]
CollectionId = Annotated[int, Field(ge=1, description="A collection id from list_collections.")]


def register(server: MCPServer, tools: Tools) -> None:
    svc = tools.svc

    @server.tool(annotations=READ_ONLY)
    @tool_errors
    def list_collections(ctx: Context) -> dict[str, Any]:
        """Your collections and those shared with you: id, name, whether it is yours, the
        asset ids in it (only those you may read) and who it is shared with. Search
        within one with search(collection_id=...)."""
        caller = tools.caller(ctx)
        tools.need(caller, "assets:read")
        return {"collections": routes_collections.list_collections(svc, caller.principal)}

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False))
    @tool_errors
    def create_collection(
        ctx: Context,
        name: Annotated[str, Field(min_length=1, max_length=200, description="Its name.")],
        asset_ids: Annotated[
            AssetIds | None, Field(description="Assets to put in it at once (optional).")
        ] = None,
    ) -> dict[str, Any]:
        """Create a collection of yours (a named set of assets to keep, share and search
        within), optionally with its first assets. Returns it with its id."""
        caller = tools.caller(ctx)
        tools.need(caller, "collections:manage")
        body = routes_collections.CollectionBody(name=name)
        if asset_ids:  # every id must resolve before anything is created
            asset_ids = [resolve_asset(svc, a, caller.principal) for a in asset_ids]
        made = routes_collections.create(body, svc, caller.principal)
        if asset_ids:
            items = routes_collections.Items(asset_ids=asset_ids)
            made = routes_collections.add(made["id"], items, svc, caller.principal)
        return made

    @server.tool(annotations=ADDS)
    @tool_errors
    def add_to_collection(
        ctx: Context, collection_id: CollectionId, asset_ids: AssetIds
    ) -> dict[str, Any]:
        """Add assets to one of your collections (adding one twice changes nothing).
        Returns the collection as it now is."""
        caller = tools.caller(ctx)
        tools.need(caller, "collections:manage")
        items = routes_collections.Items(asset_ids=asset_ids)
        return routes_collections.add(collection_id, items, svc, caller.principal)

    @server.tool(annotations=ADDS)
    @tool_errors
    def reanalyze(ctx: Context, asset_ids: AssetIds) -> dict[str, Any]:
        """Analyze assets again with the current analyzers and models (after an upgrade,
        or when an analysis looks wrong). Search keeps serving the current analysis until
        the new one is indexed. Needs a role that may write (editor or admin)."""
        caller = tools.caller(ctx)
        tools.need(caller, "assets:write")
        ids = [resolve_asset(svc, a, caller.principal) for a in asset_ids]
        for asset_id in ids:  # all or nothing: none is queued when one is not the caller's
            must_own(svc, asset_id, caller.principal)
        queued, skipped = [], []
        for asset_id in dict.fromkeys(ids):
            try:
                routes_assets.reanalyze_asset(asset_id, svc, caller.principal)
                queued.append(asset_id)
            except HTTPException as exc:
                if exc.status_code != 409:
                    raise
                skipped.append({"asset_id": asset_id, "reason": str(exc.detail)})
        return {"queued": queued, "skipped": skipped}

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False))
    @tool_errors
    def ingest(
        ctx: Context,
        path: Annotated[
            str | None,
            Field(
                max_length=4096,
                description="An absolute path of a file inside a folder the operator "
                "allowed, or an s3://bucket/key inside an allowed prefix.",
            ),
        ] = None,
        content_base64: Annotated[
            str | None, Field(description="Or the file's bytes, base64-encoded.")
        ] = None,
        file_name: Annotated[
            str | None,
            Field(
                max_length=255,
                description="The name to give it, with an extension that matches its "
                "type (needed with content_base64; default the path's name).",
            ),
        ] = None,
        visibility: Annotated[
            Literal["private", "shared", "public"],
            Field(description="Who may read it: you (private, default), or everyone."),
        ] = "private",
    ) -> dict[str, Any]:
        """Add one media file (video, audio, image or document) to the catalog: give a
        path (or s3:// URI) the operator allowed, or the bytes. The file is copied into
        the catalog's uploads area, owned by you, and analyzed by the pipeline in the
        background: poll get_asset with the returned asset_id until its state is
        completed, then search finds it. Content already in the catalog is not added
        twice. Needs a role that may write (editor or admin)."""
        caller = tools.caller(ctx)
        tools.need(caller, "assets:write")
        limit = min(svc.settings.upload_max_bytes, svc.settings.max_file_bytes)
        with opened(svc.settings, path, content_base64, limit) as (stream, source_name):
            name = safe_name(file_name or source_name)
            return land(svc, caller, stream, name, visibility)
