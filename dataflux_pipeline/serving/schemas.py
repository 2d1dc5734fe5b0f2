"""Request and response bodies of the search API."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MediaType = Literal["video", "audio", "image", "document"]
Mode = Literal["hybrid", "vector", "text"]
State = Literal["queued", "processing", "completed", "failed", "skipped"]
# a database row id: larger ones are refused (422) before SQLite overflows on them (500)
ROW_ID_MAX = 2**63 - 1
RowId = Annotated[int, Field(ge=1, le=ROW_ID_MAX)]


class Range(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


class DateRange(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)

    since: datetime | None = Field(None, alias="from", description="Inclusive, ISO 8601.")
    until: datetime | None = Field(None, alias="to", description="Exclusive, ISO 8601.")

    @field_validator("since", "until")
    @classmethod
    def in_utc(cls, moment: datetime | None) -> datetime | None:
        """Compared in UTC; a moment with no UTC equivalent (year 1 or 9999 with an
        offset) is refused here rather than failing the search."""
        if moment is None or moment.tzinfo is None:
            return moment
        try:
            return moment.astimezone(UTC)
        except OverflowError as exc:
            raise ValueError("date out of range once converted to UTC") from exc


Scalar = str | int | float | bool
METADATA_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64}){0,7}$")


class Filters(BaseModel):
    """Narrow results; every given filter must hold (AND). Asset-level filters read the
    catalog (`assets`, `features_audio`), the rest the index rows."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    mime_types: list[str] | None = Field(None, max_length=50, examples=[["video/mp4"]])
    kinds: list[str] | None = Field(None, max_length=50, description="Segment kinds (cue, ...).")
    duration_s: Range | None = None
    arrived_at: DateRange | None = None
    tempo_bpm: Range | None = Field(None, description="Audio: tempo of the whole track.")
    key: list[str] | None = Field(None, max_length=24, description="Audio: musical key (C, F#).")
    mode: Literal["major", "minor"] | None = Field(None, description="Audio: key mode.")
    tags: list[str] | None = Field(
        None, max_length=20, description="Images and keyframes tagged with any of these labels."
    )
    width: Range | None = None
    height: Range | None = None
    metadata: dict[str, Scalar | list[Scalar]] | None = Field(
        None,
        max_length=20,
        description="Asset metadata by dotted path, e.g. {'technical.exif.Make': 'Canon'}; "
        "a list matches any of its values.",
    )
    size_bytes: Range | None = Field(None, description="File size in bytes.")
    owners: list[str] | None = Field(
        None, max_length=20, description="Owned by any of these users (names)."
    )

    @field_validator("metadata")
    @classmethod
    def _keys(cls, value: dict | None) -> dict | None:
        for key in value or {}:
            if not METADATA_KEY.match(key):
                raise ValueError(f"metadata key {key[:80]!r} is not a dotted name")
        return value


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    query: str = Field(min_length=1, max_length=1000, description="Free text.")
    media_types: list[MediaType] | None = Field(None, description="Only these media types.")
    filters: Filters | None = None

    @field_validator("query")
    @classmethod
    def _words(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("query is blank")
        return value

    mode: Mode = Field("hybrid", description="hybrid (BM25 + vectors, fused), vector or text.")
    limit: int = Field(10, ge=1, le=100, description="Assets per page.")
    offset: int = Field(0, ge=0, le=10_000)
    include_segments: bool = True
    segments_per_asset: int = Field(3, ge=1, le=20)
    collection_id: RowId | None = Field(None, description="Search within a collection.")
    person_id: RowId | None = Field(None, description="Only assets showing this person.")
    min_score: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Leave out hits less likely relevant than this (default "
        "DATAFLUX_MIN_SCORE, 0.05; 0 keeps every candidate).",
    )
    safe: bool = Field(False, description="Leave out pictures scored as not safe for work.")


class SimilarOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    space: str | None = Field(None, description="One embedding space; default every one it has.")
    threshold: float | None = Field(None, ge=-1, le=1, description="Least cosine similarity.")
    media_types: list[MediaType] | None = None
    limit: int = Field(10, ge=1, le=100)
    include_segments: bool = True
    segments_per_asset: int = Field(3, ge=1, le=20)


class SimilarRequest(SimilarOptions):
    asset_id: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Similar to this asset (mean of its vectors).",
    )
    segment_id: str | None = Field(
        None, min_length=1, max_length=300, description="Similar to this segment."
    )

    @model_validator(mode="after")
    def _one_source(self) -> SimilarRequest:
        if (self.asset_id is None) == (self.segment_id is None):
            raise ValueError("give exactly one of asset_id or segment_id")
        return self


class SegmentHit(BaseModel):
    segment_id: str
    kind: str | None
    score: float = Field(description="P(relevant) on the calibrated scale, every mode alike.")
    vector_score: float | None = Field(None, description="Cosine similarity, when a vector hit.")
    text_score: float | None = Field(None, description="BM25, when a full-text hit.")
    start_s: float | None = None
    end_s: float | None = None
    page: int | None = None
    text: str | None = None
    highlight: str | None = Field(None, description="Snippet with <mark> around query terms.")
    thumbnail: str | None = None
    thumbnail_url: str | None = None
    space: str
    matched_by: list[str] = Field(default_factory=list)
    moment_thumbnail_url: str | None = Field(
        None,
        description="The picture of the matching moment: the keyframe of the shot on "
        "screen at start_s, or the page's image.",
    )


class AssetHit(BaseModel):
    asset_id: str
    media_type: str | None
    mime_type: str | None = None
    file_name: str | None
    score: float
    thumbnail: str | None = None
    thumbnail_url: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    segments: list[SegmentHit] = Field(default_factory=list)


class SearchResponse(BaseModel):
    query: str
    mode: Mode = "hybrid"
    results: list[AssetHit]
    total: int = Field(description="Assets among the candidates every leg returned.")
    took_ms: float
    legs: list[str] = Field(default_factory=list, description="Rankings that were fused.")


class SimilarResponse(BaseModel):
    source: dict[str, Any]
    spaces: list[str]
    results: list[AssetHit]
    total: int
    took_ms: float


class UploadAccepted(BaseModel):
    asset_id: str
    status: State
    file_name: str
    status_url: str


class AssetSummary(BaseModel):
    asset_id: str
    file_name: str | None = None
    media_type: str | None = None
    mime_type: str | None = None
    status: str
    state: State
    size_bytes: int | None = None
    duration_s: float | None = None
    arrived_at: datetime | None = None
    error: str | None = None


class AssetPage(BaseModel):
    items: list[AssetSummary]
    total: int
    limit: int
    offset: int


class ShareRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str | None = Field(None, max_length=128, description="A user's name.")
    group: str | None = Field(None, max_length=128, description="A group's name.")

    @model_validator(mode="after")
    def _one(self) -> ShareRequest:
        if (self.user is None) == (self.group is None):
            raise ValueError("give exactly one of user or group")
        return self


class VisibilityChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    visibility: Literal["private", "shared", "public"]


class AssetDetail(BaseModel):
    state: State
    asset: dict[str, Any]
    uris: list[str]
    access: dict[str, Any] | None = Field(None, description="Who may read it (owners only).")
    collections: list[dict[str, Any]] = Field(default_factory=list)
    thumbnail_url: str | None = None
    segments: list[dict[str, Any]] = Field(default_factory=list)
    features: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    sidecars: list[dict[str, Any]] = Field(default_factory=list)
    near_duplicates: list[dict[str, Any]] = Field(default_factory=list)


class SpaceHealth(BaseModel):
    version: int
    rows: int
    dim: int
    indices: list[str]


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    auth: Literal["open", "accounts"] = Field(
        description="open: no accounts, keys or identity provider configured; anyone "
        "reaching the port may use the service."
    )
    index_rows: dict[str, int] | None = Field(None, description="Only with credentials.")
    index: dict[str, SpaceHealth] | None = None
    assets: int | None = None
    worker: int | None = Field(None, description="The process that answered (with --workers).")


class ErrorBody(BaseModel):
    error: str
    detail: Any
