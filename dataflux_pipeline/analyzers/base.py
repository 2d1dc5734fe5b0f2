"""The analyzer plugin contract: plain Python, no Dagster, typed records out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel


class AnalysisError(Exception):
    """A file that cannot be analyzed; the message is shown to people as-is."""


def segment_id(asset_id: str, kind: str, index: int) -> str:
    return f"{asset_id}:{kind}:{index}"


class Segment(BaseModel):
    segment_id: str
    asset_id: str
    kind: str
    index: int
    parent_id: str | None = None
    start_s: float | None = None
    end_s: float | None = None
    page: int | None = None
    text: str | None = None
    thumbnail: str | None = None
    analyzer: str = ""
    analyzer_version: str = ""


class Vector(BaseModel):
    """A model-free descriptor (colour/texture, MFCC/chroma statistics) in its own space."""

    segment_id: str
    asset_id: str
    space: str
    model: str
    model_version: str
    vector: list[float]


@dataclass
class MediaItem:
    """One file handed to an analyzer: its bytes on disk and where derived files go."""

    path: Path
    asset_id: str
    mime_type: str
    store_root: Path
    sidecars: dict[str, Path] = field(default_factory=dict)
    # where this analysis writes its derived images until it has succeeded (they replace
    # thumbnail_dir then), so a failed re-analysis leaves the served ones; None: in place
    staging: Path | None = None

    def sid(self, kind: str, index: int) -> str:
        return segment_id(self.asset_id, kind, index)

    @property
    def thumbnail_dir(self) -> Path:
        """Every derived image of this asset lives here, so a re-analysis can clear it."""
        return self.store_root / "thumbnails" / self.asset_id[:2] / self.asset_id

    def thumbnail(self, name: str) -> tuple[Path, str]:
        """Where to write a derived image: (absolute path, path relative to the store,
        as segments name it once the analysis is published)."""
        rel = (self.thumbnail_dir / name).relative_to(self.store_root).as_posix()
        target = (self.staging or self.thumbnail_dir) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        return target, rel

    def derived(self, rel: str) -> Path:
        """The file a derived image of this analysis (`rel`, as thumbnail() named it) is
        in now: staged until the analysis is published."""
        final = self.store_root / rel
        if self.staging is not None and final.is_relative_to(self.thumbnail_dir):
            return self.staging / final.relative_to(self.thumbnail_dir)
        return final


@dataclass
class AnalysisResult:
    segments: list[Segment] = field(default_factory=list)
    features: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    vectors: list[Vector] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None

    def add_features(self, table: str, rows: list[dict[str, Any]]) -> None:
        self.features.setdefault(table, []).extend(rows)

    def merge(self, other: AnalysisResult) -> None:
        self.segments.extend(other.segments)
        for table, rows in other.features.items():
            self.add_features(table, rows)
        self.vectors.extend(other.vectors)
        self.metadata.update(other.metadata)


class Analyzer(ABC):
    """Segments a file, then computes features for those segments.

    `name` and `version` are written beside every row an analyzer produces, so bumping
    `version` marks old rows for a backfill instead of a migration.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    media_type: ClassVar[str]
    supported_mime_types: ClassVar[frozenset[str]]

    @abstractmethod
    def segment(self, item: MediaItem) -> list[Segment]:
        """Split the file into its natural units (shots, windows, pages, chunks)."""

    @abstractmethod
    def analyze(self, item: MediaItem, segments: list[Segment]) -> AnalysisResult:
        """Features for `segments`; may add derived segments (keyframes, cues)."""

    def run(self, item: MediaItem) -> AnalysisResult:
        return self.analyze(item, self.segment(item))

    def stamp(self, row: dict[str, Any]) -> dict[str, Any]:
        """Mark a feature row with this analyzer's name and version."""
        row["analyzer"] = self.name
        row["analyzer_version"] = self.version
        return row

    def new_segment(self, item: MediaItem, kind: str, index: int, **fields: Any) -> Segment:
        return Segment(
            segment_id=item.sid(kind, index),
            asset_id=item.asset_id,
            kind=kind,
            index=index,
            analyzer=self.name,
            analyzer_version=self.version,
            **fields,
        )
