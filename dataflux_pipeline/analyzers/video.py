"""Video shots, keyframes and per-shot visual features from one streaming decode.

`segment()` decodes the file once, downscaled to `video_analysis_width`, in chunks of
`video_chunk_frames`, and keeps only a few numbers per frame (brightness, contrast,
colourfulness, motion) next to the cut list, so memory is one chunk however long the
video is, and the per-frame arrays stay a few megabytes even for feature films. `analyze()`
reuses that scan (memoized by path, size and mtime) and only decodes a handful of
frames per shot again, at thumbnail size, to pick and write keyframes.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from dataflux_pipeline.analyzers.base import (
    AnalysisError,
    AnalysisResult,
    Analyzer,
    MediaItem,
    Segment,
)
from dataflux_pipeline.analyzers.shots import ShotDetector
from dataflux_pipeline.settings import Settings, get_settings

_CANDIDATES = 5  # keyframe candidates per shot
_CANDIDATE_SPACING_S = 0.12
_MIDDLE = (0.3, 0.7)  # candidates start anywhere in this part of a shot
_SCANS_KEPT = 4
_EPS = 1e-6


@dataclass(frozen=True)
class VideoInfo:
    """Container facts from PyAV; width and height as stored, before rotation."""

    codec: str
    width: int
    height: int
    fps: float | None
    duration_s: float | None
    bit_rate: int | None
    rotation: int

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as shown; decord applies the rotation when decoding."""
        if self.rotation in (90, 270):
            return self.height, self.width
        return self.width, self.height


@dataclass
class VideoScan:
    """What one streaming pass learns: frame times, cuts and per-frame statistics."""

    info: VideoInfo
    times: np.ndarray  # (n, 2) presentation start and end of each frame, seconds
    cuts: list[int]
    brightness: np.ndarray  # mean luma, 0..1
    contrast: np.ndarray  # luma standard deviation, 0..1
    colourfulness: np.ndarray  # Hasler–Süsstrunk M, grey levels (about 0..150)
    motion: np.ndarray  # mean abs luma difference to the previous frame, 0..1

    @property
    def frames(self) -> int:
        return len(self.times)

    def start(self, frame: int) -> float:
        return float(self.times[frame, 0])

    def end(self, stop: int) -> float:
        """End of a frame range: the next frame's start, so VFR shots tile exactly."""
        return float(self.times[stop, 0] if stop < self.frames else self.times[-1, 1])


def _even(x: float) -> int:
    return max(2, round(x / 2) * 2)


def _fit(size: tuple[int, int], width: int) -> tuple[int, int]:
    """Scale to `width`, keeping the aspect ratio, both sides even (for yuv420 scalers)."""
    w, h = size
    return _even(width), _even(width * h / w)


def probe(path: Path) -> VideoInfo:
    """Read container facts with PyAV, and check that a first frame decodes."""
    import av

    if not path.exists():
        raise AnalysisError(f"file not found: {path.name}")
    if path.stat().st_size == 0:
        raise AnalysisError("the file is empty (0 bytes)")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise AnalysisError("the file has no video stream")
            stream = container.streams.video[0]
            first = next(container.decode(stream), None)
            if first is None:
                raise AnalysisError("the video stream has no decodable frames")
            rate = stream.average_rate or stream.guessed_rate
            if stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            elif container.duration:
                duration = container.duration / av.time_base
            else:
                duration = None
            return VideoInfo(
                codec=stream.codec_context.name,
                width=int(stream.codec_context.width or first.width),
                height=int(stream.codec_context.height or first.height),
                fps=float(rate) if rate else None,
                duration_s=duration,
                bit_rate=stream.bit_rate or container.bit_rate or None,
                rotation=round(first.rotation / 90) * 90 % 360,
            )
    except AnalysisError:
        raise
    except Exception as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise AnalysisError(f"not a readable video: {reason}") from exc


def _open_reader(path: Path, size: tuple[int, int]):
    import decord

    try:
        return decord.VideoReader(str(path), width=size[0], height=size[1])
    except Exception as exc:
        raise AnalysisError("the video cannot be decoded (unsupported or damaged)") from exc


def _read(reader, indices: list[int], total: int) -> np.ndarray:
    try:
        return reader.get_batch(indices).asnumpy()
    except Exception as exc:
        raise AnalysisError(
            f"decoding failed near frame {indices[0]} of {total}; the file is probably "
            "truncated or damaged"
        ) from exc


def _candidates(a: int, b: int, step: int, keys: np.ndarray) -> list[int]:
    """A few frames near the middle of [a, b), starting on a keyframe when one is there.

    Reaching a frame costs decoding from the keyframe before it, so a window that
    starts on a keyframe is several times cheaper to read than one at the exact middle.
    """
    lo, hi = a + _MIDDLE[0] * (b - a), a + _MIDDLE[1] * (b - a)
    mid = (a + b) // 2
    near = keys[(keys >= lo) & (keys <= hi)]
    first = int(near[np.argmin(np.abs(near - mid))]) if len(near) else mid - 2 * step
    return sorted({min(b - 1, max(a, first + i * step)) for i in range(_CANDIDATES)})


def frame_stats(frames: np.ndarray, prev_luma: np.ndarray | None, out: np.ndarray) -> np.ndarray:
    """Fill `out` (4, n) with brightness, contrast, colourfulness, motion; return last luma.

    These are averages, so every second pixel each way is enough and four times cheaper.
    """
    f = frames[:, ::2, ::2].astype(np.float32)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    out[0] = luma.mean(axis=(1, 2)) / 255.0
    out[1] = luma.std(axis=(1, 2)) / 255.0
    rg, yb = r - g, 0.5 * (r + g) - b
    spread = np.hypot(rg.std(axis=(1, 2)), yb.std(axis=(1, 2)))
    out[2] = spread + 0.3 * np.hypot(rg.mean(axis=(1, 2)), yb.mean(axis=(1, 2)))
    seq = luma if prev_luma is None else np.concatenate([prev_luma[None], luma])
    diffs = np.abs(np.diff(seq, axis=0)).mean(axis=(1, 2)) / 255.0
    out[3] = np.concatenate([[0.0], diffs]) if prev_luma is None else diffs
    return luma[-1]


def laplacian_variance(rgb: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of luma: high for crisp, low for blurred."""
    y = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    lap = y[:-2, 1:-1] + y[2:, 1:-1] + y[1:-1, :-2] + y[1:-1, 2:] - 4 * y[1:-1, 1:-1]
    return float(lap.var())


def dominant_colours(rgb: np.ndarray, k: int = 3, min_share: float = 0.03) -> list[str]:
    """Up to `k` distinct main colours as hex, from a 512-bin histogram with merged bins.

    The most populated bins become seeds unless close to a chosen one; each colour is
    then the mean of the pixels in the bins nearest to its seed, so noise that spreads
    one colour over neighbouring bins is reported once and at its true average.
    """
    px = rgb.reshape(-1, 3)
    idx = ((px[:, 0] >> 5).astype(np.int32) << 6) | ((px[:, 1] >> 5) << 3) | (px[:, 2] >> 5)
    counts = np.bincount(idx, minlength=512).astype(np.float64)
    sums = np.stack([np.bincount(idx, px[:, c], minlength=512) for c in range(3)], axis=1)
    used = counts > 0
    means = np.zeros((512, 3))
    means[used] = sums[used] / counts[used, None]
    seeds: list[int] = []
    for b in np.argsort(-counts):
        if counts[b] < min_share * len(px) or len(seeds) == k:
            break
        if all(np.linalg.norm(means[b] - means[s]) >= 48 for s in seeds):
            seeds.append(int(b))
    if not seeds:
        return []
    dist = np.linalg.norm(means[used][:, None] - means[seeds][None], axis=2)
    nearest = dist.argmin(axis=1)
    hexes = []
    for j in range(len(seeds)):
        w = counts[used][nearest == j]
        colour = (means[used][nearest == j] * w[:, None]).sum(axis=0) / w.sum()
        hexes.append("#" + "".join(f"{round(c):02x}" for c in colour))
    return hexes


class VideoAnalyzer(Analyzer):
    """Shots by hard cut and fade, one keyframe per shot, visual features per shot."""

    name: ClassVar[str] = "video"
    version: ClassVar[str] = "1.0.0"
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

    def scan(self, path: Path) -> VideoScan:
        """The streaming pass for `path`, memoized so segment() and analyze() share it."""
        st = path.stat() if path.exists() else None
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns) if st else None
        with self._lock:
            if key in self._scans:
                self._scans.move_to_end(key)
                return self._scans[key]
        result = self._scan(path)
        if key is not None:
            with self._lock:
                self._scans[key] = result
                while len(self._scans) > _SCANS_KEPT:
                    self._scans.popitem(last=False)
        return result

    def _scan(self, path: Path) -> VideoScan:
        info = probe(path)
        s = self.settings
        reader = _open_reader(path, _fit(info.display_size, s.video_analysis_width))
        n = len(reader)
        if n == 0:
            raise AnalysisError("the video stream has no frames")
        times = np.round(reader.get_frame_timestamp(list(range(n))).astype(np.float64), 6)
        fps = info.fps or n / max(times[-1, 1], _EPS)
        detector = ShotDetector(min_shot_frames=max(1, round(s.min_shot_s * fps)))
        stats = np.zeros((4, n), np.float32)
        prev_luma = None
        for start in range(0, n, s.video_chunk_frames):
            stop = min(n, start + s.video_chunk_frames)
            frames = _read(reader, list(range(start, stop)), n)
            detector.feed(frames)
            prev_luma = frame_stats(frames, prev_luma, stats[:, start:stop])
        detector.finish()
        return VideoScan(info, times, detector.cuts, *stats)

    def shot_ranges(self, scan: VideoScan) -> list[tuple[int, int]]:
        """Frame ranges [start, stop) of shots: cuts, short shots merged, long ones split."""
        s = self.settings
        bounds = [0, *scan.cuts, scan.frames]
        merged: list[tuple[int, int]] = []
        for a, b in itertools.pairwise(bounds):
            if merged and scan.end(b) - scan.start(a) < s.min_shot_s:
                merged[-1] = (merged[-1][0], b)
            else:
                merged.append((a, b))
        first = merged[0]
        if len(merged) > 1 and scan.end(first[1]) - scan.start(first[0]) < s.min_shot_s:
            merged[:2] = [(first[0], merged[1][1])]
        ranges: list[tuple[int, int]] = []
        for a, b in merged:
            t0, t1 = scan.start(a), scan.end(b)
            parts = max(1, math.ceil((t1 - t0) / s.max_shot_s - _EPS))
            targets = t0 + (t1 - t0) * np.arange(1, parts) / parts
            inner = np.searchsorted(scan.times[a:b, 0], targets) + a
            edges = sorted({a, *inner.tolist(), b})
            ranges.extend(itertools.pairwise(edges))
        return ranges

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
        keyframes = self._keyframes(item, scan, shots, ranges)
        result = AnalysisResult(segments=[*shots], metadata=self._metadata(scan))
        rows = []
        for shot, (a, b), (kf, sharpness, colours) in zip(shots, ranges, keyframes, strict=True):
            result.segments.append(kf)
            rows.append(self._row(scan, shot, a, b, sharpness, colours))
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

    def _keyframes(
        self,
        item: MediaItem,
        scan: VideoScan,
        shots: list[Segment],
        ranges: list[tuple[int, int]],
    ) -> list[tuple[Segment, float, list[str]]]:
        """Decode a few frames near each shot's middle at thumbnail size; keep the sharpest.

        Shots are read in order, in batches of at most `video_chunk_frames` frames, so
        the reader mostly decodes forward and memory stays bounded.
        """
        if not shots:
            return []
        size = _fit(scan.info.display_size, self.settings.thumbnail_width)
        reader = _open_reader(item.path, size)
        step = max(1, round((scan.info.fps or 25.0) * _CANDIDATE_SPACING_S))
        keys = np.asarray(reader.get_key_indices(), np.int64)
        picks = [_candidates(a, b, step, keys) for a, b in ranges]
        limit = self.settings.video_chunk_frames
        out: list[tuple[Segment, float, list[str]]] = []
        i = 0
        while i < len(shots):
            j, batch = i, []
            while j < len(shots) and (not batch or len(batch) + len(picks[j]) <= limit):
                batch.extend(picks[j])
                j += 1
            frames = _read(reader, batch, scan.frames)
            pos = 0
            for shot, cand in zip(shots[i:j], picks[i:j], strict=True):
                group = frames[pos : pos + len(cand)]
                pos += len(cand)
                sharp = [laplacian_variance(f) for f in group]
                best = int(np.argmax(sharp))
                out.append(
                    (
                        self._write_keyframe(item, scan, shot, cand[best], group[best]),
                        float(np.mean(sharp)),
                        dominant_colours(group),
                    )
                )
            i = j
        return out

    def _write_keyframe(
        self, item: MediaItem, scan: VideoScan, shot: Segment, frame: int, rgb: np.ndarray
    ) -> Segment:
        from PIL import Image

        target, rel = item.thumbnail(f"shot_{shot.index:04d}.jpg")
        Image.fromarray(rgb).save(target, "JPEG", quality=85)
        t = scan.start(frame)
        return self.new_segment(
            item,
            "keyframe",
            shot.index,
            parent_id=shot.segment_id,
            start_s=t,
            end_s=t,
            thumbnail=rel,
        )

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
        return {
            "codec": info.codec,
            "width": info.width,
            "height": info.height,
            "fps": info.fps,
            "duration_s": info.duration_s,
            "bit_rate": info.bit_rate,
            "rotation": info.rotation,
        }
