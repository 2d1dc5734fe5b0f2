"""Video shots, keyframes, per-shot visual features and keyframe descriptors.

`segment()` runs the streaming pass of `video_scan` (one decode), which finds hard cuts,
fades and dissolves, keeps a few numbers per frame, and picks each shot's keyframe from
thumbnails made during that same decode. `analyze()` reuses that scan (memoized by path,
size and mtime) and writes the keyframes; it decodes frames again only for a shot the
scan kept no keyframe for (segments stored by another analysis, or a part of a very
long shot).
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from contextlib import closing
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from dataflux_pipeline.analyzers.base import AnalysisResult, Analyzer, MediaItem, Segment, Vector
from dataflux_pipeline.analyzers.video.frames import frames_at
from dataflux_pipeline.analyzers.video.keyframes import (
    Pick,
    Range,
    describe,
    fallback_candidates,
    shot_ranges,
)
from dataflux_pipeline.analyzers.video.scan import VideoScan, scan_video
from dataflux_pipeline.analyzers.visual import MODEL, SPACE, VERSION
from dataflux_pipeline.settings import Settings, get_settings

_FALLBACK_SPACING_S = 0.12  # between the candidates decoded for a shot without a keyframe
_SCANS_KEPT = 4
_EPS = 1e-6


class VideoAnalyzer(Analyzer):
    """Shots by hard cut, fade and dissolve; one keyframe per shot, with its descriptor."""

    name: ClassVar[str] = "video"
    version: ClassVar[str] = "2.0.0"
    media_type: ClassVar[str] = "video"
    supported_mime_types: ClassVar[frozenset[str]] = frozenset(
        {
            "video/mp4",
            "video/quicktime",
            "video/x-matroska",
            "video/webm",
            "video/x-msvideo",
            "video/mpeg",
            "video/x-m4v",
            "video/x-flv",
        }
    )

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self._scans: OrderedDict[tuple[str, int, int], VideoScan] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(path: Path) -> tuple[str, int, int] | None:
        st = path.stat() if path.exists() else None
        return (str(path.resolve()), st.st_size, st.st_mtime_ns) if st else None

    def scan(self, path: Path) -> VideoScan:
        """The streaming pass for `path`, memoized so segment() and analyze() share it."""
        key = self._key(path)
        with self._lock:
            if key in self._scans:
                self._scans.move_to_end(key)
                return self._scans[key]
        s = self.settings
        result = scan_video(
            path,
            s.video_analysis_width,
            s.thumbnail_width,
            s.video_chunk_frames,
            s.min_shot_s,
            s.max_shot_s,
        )
        if key is not None:
            with self._lock:
                self._scans[key] = result
                while len(self._scans) > _SCANS_KEPT:
                    self._scans.popitem(last=False)
        return result

    def shot_ranges(self, scan: VideoScan) -> list[Range]:
        s = self.settings
        return shot_ranges(scan.cuts, scan.times, s.min_shot_s, s.max_shot_s)

    def segment(self, item: MediaItem) -> list[Segment]:
        scan = self.scan(item.path)
        return [
            self.new_segment(item, "shot", i, start_s=scan.start(a), end_s=scan.end(b))
            for i, (a, b) in enumerate(self.shot_ranges(scan))
        ]

    def analyze(self, item: MediaItem, segments: list[Segment]) -> AnalysisResult:
        scan = self.scan(item.path)
        shots = sorted((s for s in segments if s.kind == "shot"), key=lambda s: s.index)
        ranges = [self._frames_of(scan, shot) for shot in shots]
        picks = {r: scan.picks[r] for r in ranges if r in scan.picks}
        missing = [r for r in ranges if r not in picks]
        if missing:
            picks |= self._decode_picks(item, scan, missing)
        result = AnalysisResult(segments=[*shots], metadata=self._metadata(scan))
        rows = []
        for shot, (a, b) in zip(shots, ranges, strict=True):
            pick = picks[(a, b)]
            target, rel = item.thumbnail(f"shot_{shot.index:04d}.jpg")
            target.write_bytes(pick.jpeg)
            t = scan.start(pick.frame)
            kf = self.new_segment(
                item,
                "keyframe",
                shot.index,
                parent_id=shot.segment_id,
                start_s=t,
                end_s=t,
                thumbnail=rel,
            )
            result.segments.append(kf)
            result.vectors.append(
                Vector(
                    segment_id=kf.segment_id,
                    asset_id=kf.asset_id,
                    space=SPACE,
                    model=MODEL,
                    model_version=VERSION,
                    vector=pick.vector.tolist(),
                )
            )
            rows.append(self._row(scan, shot, a, b, pick))
        result.add_features("features_video", rows)
        result.duration_s = scan.info.duration_s or scan.end(scan.frames)
        result.width, result.height = scan.info.display_size
        return result

    def _decode_picks(self, item: MediaItem, scan: VideoScan, ranges: list[Range]) -> dict:
        """Keyframes for shots the scan kept none for, from a few frames decoded again."""
        step = max(1, round((scan.info.fps or 25.0) * _FALLBACK_SPACING_S))
        wanted = [fallback_candidates(a, b, step, scan.keys) for a, b in ranges]
        flat = sorted({f for frames in wanted for f in frames})
        width = self.settings.thumbnail_width
        with closing(frames_at(item.path, scan.info, scan.times, scan.keys, flat, width)) as got:
            decoded = dict(zip(flat, got, strict=False))  # frame asked for -> (frame, RGB)
        pairs = zip(ranges, wanted, strict=True)
        return {r: describe([decoded[f] for f in frames]) for r, frames in pairs}

    @staticmethod
    def _frames_of(scan: VideoScan, shot: Segment) -> Range:
        """A shot segment's frame range, found from its times so stored segments work too."""
        starts = scan.times[:, 0]
        a = int(np.searchsorted(starts, (shot.start_s or 0.0) - _EPS))
        end_s = shot.end_s if shot.end_s is not None else scan.end(scan.frames)
        b = int(np.searchsorted(starts, end_s - _EPS))
        a = min(a, scan.frames - 1)
        return a, min(scan.frames, max(b, a + 1))

    def _row(self, scan: VideoScan, shot: Segment, a: int, b: int, pick: Pick) -> dict[str, Any]:
        inner = scan.motion[a + 1 : b]  # the first frame's motion is the cut itself
        return self.stamp(
            {
                "segment_id": shot.segment_id,
                "asset_id": shot.asset_id,
                "duration_s": scan.end(b) - scan.start(a),
                "brightness": float(scan.brightness[a:b].mean()),
                "contrast": float(scan.contrast[a:b].mean()),
                "colourfulness": float(scan.colourfulness[a:b].mean()),
                "motion": float(inner.mean()) if len(inner) else 0.0,
                "sharpness": pick.sharpness,
                "dominant_colours": pick.colours,
            }
        )

    @staticmethod
    def _metadata(scan: VideoScan) -> dict[str, Any]:
        info = scan.info
        kinds = Counter(b.kind for b in scan.boundaries)
        return {
            "codec": info.codec,
            "width": info.width,
            "height": info.height,
            "fps": info.fps,
            "duration_s": info.duration_s,
            "bit_rate": info.bit_rate,
            "rotation": info.rotation,
            "transitions": {k: kinds.get(k, 0) for k in ("cut", "fade", "dissolve")},
        }
