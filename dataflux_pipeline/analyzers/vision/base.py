"""What every vision enricher shares: the pictures it is given, the segments and rows it
adds, and the stamp of its name and model version on each of them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from dataflux_pipeline.analyzers.base import AnalysisResult, MediaItem, Segment
from dataflux_pipeline.settings import Settings

RELEASE = "1.0.0"  # of the enrichers' own code; the model's version is appended


@dataclass
class Visual:
    """A picture of one segment (an image, a keyframe, a page without text), RGB."""

    segment: Segment
    image: Any  # PIL.Image.Image


def box(bounds: tuple[float, float, float, float], width: int, height: int) -> dict[str, float]:
    """Pixel bounds as fractions of the picture, so boxes survive thumbnails of any size."""
    x0, y0, x1, y1 = bounds
    return {
        "x0": max(0.0, x0 / width),
        "y0": max(0.0, y0 / height),
        "x1": min(1.0, x1 / width),
        "y1": min(1.0, y1 / height),
    }


class Enricher(ABC):
    """Adds what a model sees in pictures to an analysis: segments (text, tags, faces) and
    feature rows. `model()` is None when its package is not installed (the loader logs
    that once); the enricher is then skipped."""

    name: ClassVar[str]
    kinds: ClassVar[frozenset[str]]  # the segment kinds it looks at

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.count = 0  # segments made for the current file, for their indices

    @abstractmethod
    def model(self) -> Any | None:
        """The loaded model (cached per process), or None when unavailable."""

    @abstractmethod
    def run(self, item: MediaItem, visuals: list[Visual], out: AnalysisResult) -> None:
        """Look at a batch of pictures and add to `out`."""

    @property
    def version(self) -> str:
        return f"{RELEASE}+{self.model().version}"

    def child(self, item: MediaItem, kind: str, parent: Segment, **fields: Any) -> Segment:
        """A segment inside `parent`: same moment or page, numbered per file."""
        seg = Segment(
            segment_id=item.sid(kind, self.count),
            asset_id=item.asset_id,
            kind=kind,
            index=self.count,
            parent_id=parent.segment_id,
            start_s=parent.start_s,
            end_s=parent.end_s,
            page=parent.page,
            analyzer=self.name,
            analyzer_version=self.version,
            **fields,
        )
        self.count += 1
        return seg

    def row(self, segment: Segment, **values: Any) -> dict[str, Any]:
        return {
            "segment_id": segment.segment_id,
            "asset_id": segment.asset_id,
            **values,
            "analyzer": self.name,
            "analyzer_version": self.version,
        }
