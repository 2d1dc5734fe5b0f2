"""Video shots, keyframes, per-shot visual features and keyframe descriptors.

`segment()` runs the streaming pass of `video_scan` (one decode, downscaled, in chunks),
which finds hard cuts, fades and dissolves and keeps a few numbers per frame. `analyze()`
reuses that scan (memoized by path, size and mtime) and only decodes a handful of frames
per shot again, at thumbnail size, to pick, write and describe keyframes. `run()` does
both with the keyframe work on a second thread, following the scan shot by shot.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import Counter, OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from dataflux_pipeline.analyzers.base import AnalysisResult, Analyzer, MediaItem, Segment, Vector
from dataflux_pipeline.analyzers.video.scan import (
    Progress,
    VideoInfo,
    VideoScan,
    frames_at,
    scan_video,
)
from dataflux_pipeline.analyzers.visual import (
    MODEL,
    SPACE,
    VERSION,
    descriptor,
    dominant_colours,
    laplacian_variance,
)
from dataflux_pipeline.settings import Settings, get_settings

_CANDIDATES = 5  # keyframe candidates per shot
_CANDIDATE_SPACING_S = 0.12
_MIDDLE = (0.3, 0.7)  # keyframe candidates start in this part of a shot
_SCANS_KEPT = 4
_EPS = 1e-6

Job = tuple[int, int, int]  # shot index, first frame, frame after the last


def _candidates(a: int, b: int, step: int, keys: np.ndarray) -> list[int]:
    """A few frames in the middle part of [a, b), as cheap to decode as possible.

    Reaching a frame costs decoding from the I-frame before it, usually the shot's first
    frame; so the window starts on an I-frame inside the middle part when there is one
    (the one nearest the middle), and otherwise where the middle part begins.
    """
    lo, hi = a + _MIDDLE[0] * (b - a), a + _MIDDLE[1] * (b - a)
    near = keys[(keys >= lo) & (keys <= hi)]
    mid = (a + b) / 2
    first = int(near[np.argmin(np.abs(near - mid))]) if len(near) else math.ceil(lo)
    return sorted({min(b - 1, max(a, first + i * step)) for i in range(_CANDIDATES)})


def shot_ranges(
    cuts: list[int], times: np.ndarray, min_shot_s: float, max_shot_s: float
) -> list[tuple[int, int]]:
    """Frame ranges [start, stop) of shots: cuts, short shots merged, long ones split."""
    n = len(times)

    def start(f: int) -> float:
        return float(times[f, 0])

    def end(stop: int) -> float:
        return float(times[stop, 0] if stop < n else times[-1, 1])

    merged: list[tuple[int, int]] = []
    for a, b in itertools.pairwise([0, *cuts, n]):
        if merged and end(b) - start(a) < min_shot_s:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    first = merged[0]
    if len(merged) > 1 and end(first[1]) - start(first[0]) < min_shot_s:
        merged[:2] = [(first[0], merged[1][1])]
    ranges: list[tuple[int, int]] = []
    for a, b in merged:
        t0, t1 = start(a), end(b)
        parts = max(1, math.ceil((t1 - t0) / max_shot_s - _EPS))
        targets = t0 + (t1 - t0) * np.arange(1, parts) / parts
        inner = np.searchsorted(times[a:b, 0], targets) + a
        ranges.extend(itertools.pairwise(sorted({a, *inner.tolist(), b})))
    return ranges


@dataclass(frozen=True)
class _Key:
    """A shot's keyframe, already written, with what was measured on the way."""

    frame: int
    thumbnail: str
    sharpness: float  # mean over the candidates
    colours: list[str]
    vector: list[float]


class _KeyframePicker:
    """Decodes a few frames near each shot's middle at thumbnail size and keeps the
    sharpest: writes it, describes it, and notes sharpness and colours of the lot.

    `follow()` takes a running scan's progress and starts on the shots that can no
    longer change, on its own thread, so the work overlaps the scan's decoding.
    """

    def __init__(self, item: MediaItem, settings: Settings) -> None:
        self.item, self.settings = item, settings
        self.pending: dict[Job, Future] = {}
        self._pool: ThreadPoolExecutor | None = None

    def pick(
        self, info: VideoInfo, times: np.ndarray, keys: np.ndarray, jobs: list[Job]
    ) -> dict[Job, _Key]:
        step = max(1, round((info.fps or 25.0) * _CANDIDATE_SPACING_S))
        picks = [_candidates(a, b, step, keys) for _, a, b in jobs]
        wanted = [f for cand in picks for f in cand]
        width = self.settings.thumbnail_width
        out: dict[Job, _Key] = {}
        with closing(frames_at(self.item.path, info, times, keys, wanted, width)) as got:
            for job, cand in zip(jobs, picks, strict=True):
                group = [next(got) for _ in cand]
                sharp = [laplacian_variance(rgb) for _, rgb in group]
                best, rgb = group[int(np.argmax(sharp))]
                out[job] = _Key(
                    frame=best,
                    thumbnail=self._write(job[0], rgb),
                    sharpness=float(np.mean(sharp)),
                    colours=dominant_colours(np.stack([g for _, g in group])),
                    vector=descriptor(rgb).tolist(),
                )
        return out

    def _write(self, index: int, rgb: np.ndarray) -> str:
        from PIL import Image

        target, rel = self.item.thumbnail(f"shot_{index:04d}.jpg")
        Image.fromarray(rgb).save(target, "JPEG", quality=85)
        return rel

    def follow(self, p: Progress) -> None:
        """Queue the shots that ended before the decided frontier (but the last two,
        which a short shot after them could still merge with)."""
        s = self.settings
        cuts = [c for c in p.cuts if c < p.decided]
        times = p.times[: max(p.decided, 1)]
        jobs = [
            (i, a, b)
            for i, (a, b) in enumerate(shot_ranges(cuts, times, s.min_shot_s, s.max_shot_s)[:-2])
        ]
        new = [job for job in jobs if job not in self.pending]
        if not new:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="keyframes")
        future = self._pool.submit(self.pick, p.info, p.times, p.keys, new)
        self.pending |= dict.fromkeys(new, future)

    def done(self) -> dict[Job, _Key]:
        """What the thread finished; a batch that failed is simply redone later."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        out: dict[Job, _Key] = {}
        for job, future in self.pending.items():
            if future.exception() is None:
                out[job] = future.result()[job]
        return out


class VideoAnalyzer(Analyzer):
    """Shots by hard cut, fade and dissolve; one keyframe per shot, with its descriptor."""

    name: ClassVar[str] = "video"
    version: ClassVar[str] = "1.1.0"
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

    def scan(self, path: Path, follow=None) -> VideoScan:
        """The streaming pass for `path`, memoized so segment() and analyze() share it."""
        key = self._key(path)
        with self._lock:
            if key in self._scans:
                self._scans.move_to_end(key)
                return self._scans[key]
        s = self.settings
        width, chunk = s.video_analysis_width, s.video_chunk_frames
        result = scan_video(path, width, chunk, s.min_shot_s, follow)
        if key is not None:
            with self._lock:
                self._scans[key] = result
                while len(self._scans) > _SCANS_KEPT:
                    self._scans.popitem(last=False)
        return result

    def shot_ranges(self, scan: VideoScan) -> list[tuple[int, int]]:
        s = self.settings
        return shot_ranges(scan.cuts, scan.times, s.min_shot_s, s.max_shot_s)

    def segment(self, item: MediaItem) -> list[Segment]:
        scan = self.scan(item.path)
        return [
            self.new_segment(item, "shot", i, start_s=scan.start(a), end_s=scan.end(b))
            for i, (a, b) in enumerate(self.shot_ranges(scan))
        ]

    def run(self, item: MediaItem) -> AnalysisResult:
        """segment() then analyze(), with keyframes picked while the scan still decodes."""
        if self._key(item.path) in self._scans:
            return super().run(item)
        picker = _KeyframePicker(item, self.settings)
        try:
            self.scan(item.path, picker.follow)
        finally:
            ready = picker.done()
        result = self.analyze(item, self.segment(item), ready)
        used = {s.thumbnail for s in result.segments if s.kind == "keyframe"}
        for key in ready.values():  # from shots that changed after they were picked
            if key.thumbnail not in used:
                (item.store_root / key.thumbnail).unlink(missing_ok=True)
        return result

    def analyze(
        self, item: MediaItem, segments: list[Segment], ready: dict[Job, _Key] | None = None
    ) -> AnalysisResult:
        scan = self.scan(item.path)
        shots = sorted((s for s in segments if s.kind == "shot"), key=lambda s: s.index)
        jobs = [(shot.index, *self._frames_of(scan, shot)) for shot in shots]
        keys = {job: (ready or {})[job] for job in jobs if job in (ready or {})}
        missing = [job for job in jobs if job not in keys]
        if missing:
            picker = _KeyframePicker(item, self.settings)
            keys |= picker.pick(scan.info, scan.times, scan.keys, missing)
        result = AnalysisResult(segments=[*shots], metadata=self._metadata(scan))
        rows = []
        for shot, job in zip(shots, jobs, strict=True):
            key = keys[job]
            t = scan.start(key.frame)
            kf = self.new_segment(
                item,
                "keyframe",
                shot.index,
                parent_id=shot.segment_id,
                start_s=t,
                end_s=t,
                thumbnail=key.thumbnail,
            )
            result.segments.append(kf)
            result.vectors.append(
                Vector(
                    segment_id=kf.segment_id,
                    asset_id=kf.asset_id,
                    space=SPACE,
                    model=MODEL,
                    model_version=VERSION,
                    vector=key.vector,
                )
            )
            rows.append(self._row(scan, shot, job[1], job[2], key.sharpness, key.colours))
        result.add_features("features_video", rows)
        result.duration_s = scan.info.duration_s or scan.end(scan.frames)
        result.width, result.height = scan.info.display_size
        return result

    @staticmethod
    def _frames_of(scan: VideoScan, shot: Segment) -> tuple[int, int]:
        """A shot segment's frame range, found from its times so stored segments work too."""
        starts = scan.times[:, 0]
        a = int(np.searchsorted(starts, (shot.start_s or 0.0) - _EPS))
        end_s = shot.end_s if shot.end_s is not None else scan.end(scan.frames)
        b = int(np.searchsorted(starts, end_s - _EPS))
        a = min(a, scan.frames - 1)
        return a, min(scan.frames, max(b, a + 1))

    def _row(
        self,
        scan: VideoScan,
        shot: Segment,
        a: int,
        b: int,
        sharpness: float,
        colours: list[str],
    ) -> dict[str, Any]:
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
                "sharpness": sharpness,
                "dominant_colours": colours,
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
