"""Opening a video with PyAV: container facts, scaling decoded frames, single frames.

`frames_at()` reads single frames at thumbnail size, for a shot the scan's one decode
kept no keyframe candidate for (segments stored by another analysis, or a part of a
shot many times longer than `max_shot_s`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dataflux_pipeline.analyzers.base import AnalysisError

THUMB = "BILINEAR"  # thumbnails are looked at: a proper downscaling filter


def open_video(path: Path):
    """The container, opened without decoding: FFmpeg's stream probing decodes the first
    frames at full size on its own decoder (50 ms for a 1080p H.264 file, four times per
    analysis), while what the analyzer reads from the headers is there without it."""
    import av

    return av.open(str(path), options={"skip_frame": "all"})


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
        """Width and height as shown, after the display rotation."""
        if self.rotation in (90, 270):
            return self.height, self.width
        return self.width, self.height


def _even(x: float) -> int:
    return max(2, round(x / 2) * 2)


def fit(size: tuple[int, int], width: int) -> tuple[int, int]:
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
        with open_video(path) as container:
            if not container.streams.video:
                raise AnalysisError("the file has no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "NONE"  # one frame: starting threads costs more
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


class Scaler:
    """Scales decoded frames to one display size, turning them upright."""

    def __init__(self, info: VideoInfo, width: int, interpolation: str) -> None:
        from av.video.reformatter import VideoReformatter

        self.turns = info.rotation // 90
        w, h = fit(info.display_size, width)
        self.size = (h, w) if self.turns % 2 else (w, h)  # as decoded, before turning
        self.interpolation = interpolation
        self.reformatter = VideoReformatter()

    def __call__(self, frame) -> np.ndarray:
        w, h = self.size
        small = self.reformatter.reformat(
            frame, w, h, "rgb24", interpolation=self.interpolation, threads=1
        )
        rgb = small.to_ndarray()
        return np.ascontiguousarray(np.rot90(rgb, self.turns)) if self.turns else rgb


def frames_at(
    path: Path, info: VideoInfo, times: np.ndarray, keys: np.ndarray, wanted: list[int], width: int
) -> Iterator[tuple[int, np.ndarray]]:
    """(index, RGB at `width`) of each of the sorted frame indices `wanted`.

    Reaching a frame means decoding from the I-frame before it; the decoder seeks only
    when the next wanted frame lies past an I-frame ahead of it, so a file is read
    forward at most once, and only the frames asked for are converted.
    """

    starts = times[:, 0]
    half = 0.5 * float(np.median(np.diff(starts))) if len(starts) > 1 else 0.02
    scale = Scaler(info, width, THUMB)
    with open_video(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frames, pos = None, -1  # pos: index of the last frame decoded
        for target in wanted:
            key = int(keys[max(0, np.searchsorted(keys, target, "right") - 1)]) if len(keys) else 0
            if frames is None or target <= pos or key > pos:
                container.seek(int((starts[key] + half) / stream.time_base), stream=stream)
                frames = container.decode(stream)
            for frame in frames:
                pos = int(np.searchsorted(starts, (frame.time or 0.0) + half)) - 1
                if pos >= target:
                    yield pos, scale(frame)
                    break
            else:
                raise AnalysisError(f"decoding stopped before frame {target} of {len(times)}")
