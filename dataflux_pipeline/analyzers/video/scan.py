"""The one streaming pass over a video: frame times, shot boundaries, statistics, keyframes.

`decode()` decodes on worker threads, ahead of this one, which scores the chunks in
order: FFmpeg decodes and scales without the GIL, and the numpy kernels here release
it too, so every core works. Only a few numbers per frame
(brightness, contrast, colourfulness, motion) are kept next to the boundary list, plus
the keyframe of every shot once the shot is final, so memory stays a couple of chunks
and a few thumbnails however long the video is.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dataflux_pipeline.analyzers.base import AnalysisError
from dataflux_pipeline.analyzers.video.decode import decode
from dataflux_pipeline.analyzers.video.frames import VideoInfo, probe
from dataflux_pipeline.analyzers.video.keyframes import KeyframeSampler, Pick, Range
from dataflux_pipeline.analyzers.video.shots import Boundary, ShotDetector

DISSOLVE_SPANS_S = (0.12, 0.24, 0.48, 0.96)  # dissolve half-widths tried, in seconds


@dataclass
class VideoScan:
    """What one streaming pass learns: frame times, boundaries, per-frame statistics and
    the keyframe of each shot range it ended with."""

    info: VideoInfo
    times: np.ndarray  # (n, 2) presentation start and end of each frame, seconds
    boundaries: list[Boundary]
    brightness: np.ndarray  # mean luma, 0..1
    contrast: np.ndarray  # luma standard deviation, 0..1
    colourfulness: np.ndarray  # Hasler–Süsstrunk M, grey levels (about 0..150)
    motion: np.ndarray  # mean abs luma difference to the previous frame, 0..1
    keys: np.ndarray  # indices of the frames that decode on their own (I-frames)
    picks: dict[Range, Pick]
    cuts: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.cuts = [b.frame for b in self.boundaries]

    @property
    def frames(self) -> int:
        return len(self.times)

    def start(self, frame: int) -> float:
        return float(self.times[frame, 0])

    def end(self, stop: int) -> float:
        """End of a frame range: the next frame's start, so VFR shots tile exactly."""
        return float(self.times[stop, 0] if stop < self.frames else self.times[-1, 1])


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


def _times(starts: list[np.ndarray], last_end: float) -> np.ndarray:
    """(n, 2) start and end of each frame: a frame ends where the next one starts."""
    start = np.concatenate(starts)
    end = np.append(start[1:], max(last_end, start[-1]))
    return np.round(np.stack([start, end], axis=1), 6)


def scan_video(
    path: Path,
    width: int,
    thumb_width: int,
    chunk_frames: int,
    min_shot_s: float,
    max_shot_s: float,
) -> VideoScan:
    """Decode `path` once and return its frame times, boundaries, statistics and keyframes."""
    info = probe(path)
    fps = info.fps or 25.0
    detector = ShotDetector(
        min_shot_frames=max(1, round(min_shot_s * fps)),
        dissolve_spans=tuple(max(1, round(s * fps)) for s in DISSOLVE_SPANS_S),
    )
    sampler = KeyframeSampler(min_shot_s, max_shot_s)
    starts: list[np.ndarray] = []
    stats: list[np.ndarray] = []
    keys: list[int] = []
    prev_luma, last_end, seen = None, 0.0, 0
    try:
        with closing(decode(path, info, width, thumb_width, chunk_frames)) as chunks:
            for chunk in chunks:
                detector.feed(chunk.frames)
                block = np.zeros((4, len(chunk.frames)), np.float32)
                prev_luma = frame_stats(chunk.frames, prev_luma, block)
                stats.append(block)
                starts.append(chunk.starts)
                keys += [seen + k for k in chunk.keys]
                last_end = max(last_end, float(chunk.ends.max()))
                sampler.add([(seen + i, grid, rgb) for i, grid, rgb in chunk.thumbs])
                seen += len(chunk.frames)
                sampler.update(detector.cuts, _times(starts, last_end), detector.decided)
    except AnalysisError:
        raise
    except Exception as exc:
        reason = str(exc) or type(exc).__name__
        raise AnalysisError(f"the video cannot be read to the end: {reason}") from exc
    if not starts:
        raise AnalysisError("the video stream has no frames")
    detector.finish()
    times = _times(starts, last_end)
    picks = sampler.finish(detector.cuts, times)
    all_stats = np.concatenate(stats, axis=1)
    return VideoScan(
        info, times, detector.boundaries, *all_stats, keys=np.asarray(keys, int), picks=picks
    )
