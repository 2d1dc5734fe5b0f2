"""The picture of the moment a hit matched: for a subtitle cue, a transcript piece or an
audio window of a video, the keyframe of the shot that is on screen at the hit's start
(not the video's first shot); for a page, the page's own image. People recognise the
scene they are looking for, so that is the thumbnail a result shows."""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from dataclasses import dataclass

import polars as pl

from dataflux_pipeline.serving.schemas import SearchResponse, SegmentHit
from dataflux_pipeline.serving.views import CatalogView

CACHED_ASSETS = 512  # shot lists kept (one small list per video)


@dataclass(frozen=True)
class Shots:
    """A video's shots in time order with each one's keyframe thumbnail, and the
    thumbnails of its pages (documents)."""

    starts: list[float]
    thumbnails: list[str | None]
    pages: dict[int, str]

    def at(self, t: float) -> str | None:
        """The keyframe of the shot covering time `t` (the last shot that starts by then)."""
        n = bisect.bisect_right(self.starts, t + 1e-6) - 1
        return self.thumbnails[max(n, 0)] if self.thumbnails else None


class Moments:
    """Shot lists per (asset, analysis partition), so a search reads each video's segments
    once per analysis rather than once per request."""

    def __init__(self, catalog: CatalogView) -> None:
        self.catalog = catalog
        self._cache: OrderedDict[tuple[str, str | None], Shots] = OrderedDict()
        self._lock = threading.Lock()

    def shots(self, asset_id: str) -> Shots:
        row = self.catalog.row(asset_id) or {}
        key = (asset_id, row.get("partition"))
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
        found = _shots(self.catalog.analysis_rows("segments", asset_id))
        with self._lock:
            self._cache[key] = found
            while len(self._cache) > CACHED_ASSETS:
                self._cache.popitem(last=False)
        return found

    def thumbnail(self, hit: SegmentHit, asset_id: str) -> str | None:
        """The store path of the picture for one hit segment, or None."""
        if hit.thumbnail:
            return hit.thumbnail
        if hit.page is not None:
            return self.shots(asset_id).pages.get(hit.page)
        if hit.start_s is not None:
            return self.shots(asset_id).at(hit.start_s)
        return None

    def attach(self, response: SearchResponse) -> SearchResponse:
        """A copy of the response whose segment hits carry `moment_thumbnail_url` (the
        cached response itself is shared between requests and stays as it is)."""
        results = []
        for hit in response.results:
            segments = []
            for seg in hit.segments:
                found = self.thumbnail(seg, hit.asset_id)
                url = f"/{found}" if found else None
                segments.append(seg.model_copy(update={"moment_thumbnail_url": url}))
            results.append(hit.model_copy(update={"segments": segments}))
        return response.model_copy(update={"results": results})


def _shots(segments: pl.DataFrame) -> Shots:
    if not segments.height:
        return Shots([], [], {})
    rows = segments.select("segment_id", "kind", "parent_id", "start_s", "page", "thumbnail")
    keyframes = {
        r["parent_id"]: r["thumbnail"]
        for r in rows.filter(pl.col("kind") == "keyframe").iter_rows(named=True)
        if r["thumbnail"]
    }
    shots = rows.filter((pl.col("kind") == "shot") & pl.col("start_s").is_not_null())
    shots = shots.sort("start_s")
    pages = {
        r["page"]: r["thumbnail"]
        for r in rows.filter(pl.col("page").is_not_null() & pl.col("thumbnail").is_not_null())
        .sort("page")
        .iter_rows(named=True)
    }
    return Shots(
        starts=shots["start_s"].to_list(),
        thumbnails=[keyframes.get(s) for s in shots["segment_id"].to_list()],
        pages=pages,
    )
