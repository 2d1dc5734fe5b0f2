"""Request and response bodies of the search API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

MediaType = Literal["video", "audio", "image", "document"]


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=1000, description="Free text.")
    media_types: list[MediaType] | None = Field(None, description="Only these media types.")
    limit: int = Field(10, ge=1, le=100, description="Assets per page.")
    offset: int = Field(0, ge=0, le=10_000)
    include_segments: bool = True


class SegmentHit(BaseModel):
    segment_id: str
    kind: str
    score: float
    start_s: float | None = None
    end_s: float | None = None
    page: int | None = None
    text: str | None = None
    thumbnail: str | None = None
    space: str


class AssetHit(BaseModel):
    asset_id: str
    media_type: str | None
    file_name: str | None
    score: float
    thumbnail: str | None = None
    segments: list[SegmentHit] = Field(default_factory=list)


class SearchResponse(BaseModel):
    query: str
    results: list[AssetHit]
    total: int
    took_ms: float


class AssetDetail(BaseModel):
    asset: dict[str, Any]
    uris: list[str]
    segments: list[dict[str, Any]]


class Health(BaseModel):
    status: Literal["ok"]
    index_rows: dict[str, int]
    assets: int
