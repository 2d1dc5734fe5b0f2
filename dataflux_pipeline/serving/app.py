"""The FastAPI app. It reads the catalog and never writes the pipeline's tables."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import polars as pl
from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse

from dataflux_pipeline import __version__
from dataflux_pipeline.serving.schemas import AssetDetail, Health, SearchRequest, SearchResponse
from dataflux_pipeline.serving.search import Searcher
from dataflux_pipeline.settings import Settings, get_settings
from dataflux_pipeline.tables import TableStore

ASSET_ID = re.compile(r"^(?:[0-9a-f]{64}|unreadable-[0-9a-f]{48})$")
SEGMENT_ID = re.compile(r"^(?:[0-9a-f]{64}|unreadable-[0-9a-f]{48}):[a-z_]{1,32}:\d{1,9}$")


def _lookup(tables: TableStore, table: str, column: str, value: str) -> pl.DataFrame:
    if not tables.files(table):
        return pl.DataFrame()
    return tables.scan(table).filter(pl.col(column) == value).collect()


def _check(pattern: re.Pattern, value: str, what: str) -> None:
    if not pattern.match(value):
        raise HTTPException(422, f"{what} {value[:80]!r} is not a valid id")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    searcher = Searcher(settings)
    tables = TableStore(settings.tables)
    thumbnails = (settings.store / "thumbnails").resolve()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        searcher.query_vectors("warm-up")  # load the models before the first request
        yield

    app = FastAPI(
        title="DataFlux search",
        version=__version__,
        description="Search a media catalog built by the DataFlux pipeline.",
        lifespan=lifespan,
    )

    @app.post("/search", response_model=SearchResponse)
    def search(req: SearchRequest) -> SearchResponse:
        """Text query over every segment; hits grouped per asset, best segments first."""
        return searcher.search(req)

    @app.get("/assets/{asset_id}", response_model=AssetDetail)
    def get_asset(asset_id: str) -> AssetDetail:
        _check(ASSET_ID, asset_id, "asset id")
        rows = _lookup(tables, "assets", "asset_id", asset_id)
        if rows.is_empty():
            raise HTTPException(404, f"asset {asset_id} not found")
        rows = rows.sort(pl.col("status") == "duplicate")
        uris = list(dict.fromkeys(u for lst in rows["uris"].to_list() for u in lst or []))
        segments = _lookup(tables, "segments", "asset_id", asset_id)
        if not segments.is_empty():
            segments = segments.sort("kind", "index")
        return AssetDetail(asset=rows.row(0, named=True), uris=uris, segments=segments.to_dicts())

    @app.get("/segments/{segment_id}")
    def get_segment(segment_id: str) -> dict:
        _check(SEGMENT_ID, segment_id, "segment id")
        rows = _lookup(tables, "segments", "segment_id", segment_id)
        if rows.is_empty():
            raise HTTPException(404, f"segment {segment_id} not found")
        return rows.row(0, named=True)

    @app.get("/thumbnails/{path:path}")
    def get_thumbnail(path: str) -> FileResponse:
        target = (thumbnails / path).resolve()
        if not target.is_relative_to(thumbnails) or target.suffix.lower() not in (".jpg", ".webp"):
            raise HTTPException(400, "thumbnail path must stay inside the thumbnail store")
        if not target.is_file():
            raise HTTPException(404, "thumbnail not found")
        return FileResponse(target)

    @app.get("/health", response_model=Health)
    def health() -> Health:
        index = searcher.index
        rows = {space: index.count(space) for space in index.spaces()}
        n_assets = (
            tables.scan("assets").select(pl.len()).collect().item() if tables.files("assets") else 0
        )
        return Health(status="ok", index_rows=rows, assets=n_assets)

    app.state.settings = settings
    app.state.thumbnails = Path(thumbnails)
    return app
