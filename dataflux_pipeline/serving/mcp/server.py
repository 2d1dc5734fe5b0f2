"""The MCP server: the catalog's tools and resources on the official SDK's MCPServer, built
on the same Service object the REST routes use. Nothing here decides who may see what;
the tools call the routes' functions with the caller's principal."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from mcp.server.mcpserver import Context, MCPServer

from dataflux_pipeline import __version__
from dataflux_pipeline.accounts.principals import Principal
from dataflux_pipeline.serving.deps import Service
from dataflux_pipeline.serving.mcp import managing, reading, stats, text
from dataflux_pipeline.serving.mcp.calls import Tools, resource_errors
from dataflux_pipeline.serving.routes import assets as routes_assets

INSTRUCTIONS = """\
DataFlux is a searchable catalog of media: video, audio, images and documents, analyzed
into moments (shots, keyframes, subtitle cues, speech, pages, text chunks). Start with
search (natural language); hits carry asset ids, times in seconds or pages, and snippets.
Quote with get_transcript (what is said) or get_text (all text), look with get_thumbnail,
find look-alikes with similar, inspect with get_asset, count with catalog_stats. Keep
results in collections. ingest adds a file (the pipeline analyzes it within a minute or
so); reanalyze redoes an analysis. You see only what your account may read."""


def build_server(svc: Service, local: Callable[[], Principal]) -> MCPServer:
    """`local` is who a call acts as when no HTTP request carries credentials (stdio, or
    a test's in-process client); over HTTP the /mcp endpoint authenticates each request."""
    server = MCPServer(
        "dataflux",
        title="DataFlux media catalog",
        instructions=INSTRUCTIONS,
        version=__version__,
        log_level="WARNING",
    )
    tools = Tools(svc, local)
    reading.register(server, tools)
    text.register(server, tools)
    stats.register(server, tools)
    managing.register(server, tools)
    _resources(server, tools)
    return server


def _resources(server: MCPServer, tools: Tools) -> None:
    @server.resource(
        "dataflux://asset/{asset_id}",
        name="asset",
        title="An asset's details",
        mime_type="application/json",
    )
    @resource_errors
    def asset(asset_id: str, ctx: Context) -> str:
        """One asset as get_asset returns it (id or unique prefix of 8+ characters)."""
        caller = tools.caller(ctx)
        tools.need(caller, "assets:read")
        detail = routes_assets.get_asset(asset_id, tools.svc, caller.principal)
        return json.dumps(reading.asset_view(detail, caller.base_url), default=str)

    @server.resource(
        "dataflux://thumbnail/{item_id}",
        name="thumbnail",
        title="A keyframe, image or page thumbnail",
        mime_type="image/jpeg",
    )
    @resource_errors
    def thumbnail(item_id: str, ctx: Context) -> bytes:
        """The JPEG thumbnail of an asset (its first) or of one segment (a segment_id)."""
        caller = tools.caller(ctx)
        tools.need(caller, "assets:read")
        return Path(reading.thumbnail_file(tools, item_id, caller)).read_bytes()
