"""Probing and the one streaming pass over a video: frame times, shot boundaries, statistics.

The pass decodes with decord, downscaled to `video_analysis_width`, in chunks of
`video_chunk_frames`, and keeps only a few numbers per frame (brightness, contrast,
colourfulness, motion) next to the boundary list. decord's reader demuxes ahead of its
decoder without limit (a whole file's packets end up in memory), so the video stream is
first copied, without re-encoding, into parts of about SEGMENT_BYTES that start on
I-frames, and decord reads one part at a time: memory is one part and a couple of chunks
however long the video is, and the per-frame arrays stay a few megabytes even for
feature films. The next chunk is decoded on a second thread while this one is analysed
(decord and the numpy kernels release the GIL). `frames_at` reads single frames at
thumbnail size for keyframes.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dataflux_pipeline.analyzers.base import AnalysisError
from dataflux_pipeline.analyzers.video.shots import Boundary, ShotDetector

_EPS = 1e-6
DISSOLVE_SPANS_S = (0.12, 0.24, 0.48, 0.96)  # dissolve half-widths tried, in seconds
SEGMENT_BYTES = 32 << 20  # compressed video handed to one decord reader


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
    """What one streaming pass learns: frame times, boundaries and per-frame statistics."""

    info: VideoInfo
    times: np.ndarray  # (n, 2) presentation start and end of each frame, seconds
    boundaries: list[Boundary]
    brightness: np.ndarray  # mean luma, 0..1
    contrast: np.ndarray  # luma standard deviation, 0..1
    colourfulness: np.ndarray  # Hasler–Süsstrunk M, grey levels (about 0..150)
    motion: np.ndarray  # mean abs luma difference to the previous frame, 0..1
    keys: np.ndarray  # indices of the frames that decode on their own (I-frames)
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


def open_reader(path: Path, size: tuple[int, int]):
    import decord

    try:
        return decord.VideoReader(str(path), width=size[0], height=size[1])
    except Exception as exc:
        raise AnalysisError("the video cannot be decoded (unsupported or damaged)") from exc


def read(reader, indices: list[int], total: int) -> np.ndarray:
    try:
        return reader.get_batch(indices).asnumpy()
    except Exception as exc:
        raise AnalysisError(
            f"decoding failed near frame {indices[0]} of {total}; the file is probably "
            "truncated or damaged"
        ) from exc


def chunks(reader, total: int, size: int) -> Iterator[tuple[int, np.ndarray]]:
    """Consecutive (start, frames) chunks; the next one decodes while the caller works."""
    starts = list(range(0, total, size))

    def load(start: int) -> np.ndarray:
        return read(reader, list(range(start, min(total, start + size))), total)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="decode") as pool:
        pending = pool.submit(load, starts[0]) if starts else None
        for k, start in enumerate(starts):
            frames = pending.result()
            if k + 1 < len(starts):
                pending = pool.submit(load, starts[k + 1])
            yield start, frames


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


@dataclass(frozen=True)
class Progress:
    """How far a running scan is: boundaries before `decided` are final, and the times
    and I-frames of frames before `len(times)` are known."""

    info: VideoInfo
    decided: int
    cuts: list[int]
    times: np.ndarray
    keys: np.ndarray


@dataclass
class _Part:
    """A run of whole GOPs copied out of the video, with the times of its frames."""

    path: Path
    times: np.ndarray  # (n, 2) presentation start and end, seconds, in the source's clock
    keys: list[int]  # I-frames, as indices within the part


class _PartWriter:
    """One part being written: its container and the timing of its packets."""

    def __init__(self, target: Path, stream, rotation: int) -> None:
        import av

        self.path = target
        self.out = av.open(str(target), "w", format="matroska")
        self.stream = self.out.add_stream_from_template(stream)
        if rotation:
            self.stream.set_display_rotation(rotation)
        self.base = float(stream.time_base)
        self.pts: list[int] = []
        self.ends: list[int] = []
        self.key_pts: list[int] = []
        self.size = 0

    def add(self, packet) -> None:
        self.pts.append(packet.pts)
        self.ends.append(packet.pts + (packet.duration or 0))
        if packet.is_keyframe:
            self.key_pts.append(packet.pts)
        self.size += packet.size
        packet.stream = self.stream
        self.out.mux(packet)

    def close(self) -> _Part:
        self.out.close()
        order = np.argsort(self.pts, kind="stable")
        start = np.asarray(self.pts, np.float64)[order] * self.base
        last = max(float(np.max(self.ends)) * self.base, start[-1])
        times = np.stack([start, np.append(start[1:], last)], axis=1)
        keys = np.searchsorted(start, np.asarray(self.key_pts, np.float64) * self.base)
        return _Part(self.path, np.round(times, 6), sorted(set(keys.tolist())))


def _parts(path: Path, rotation: int, folder: Path) -> Iterator[_Part]:
    """Copy the video stream, without re-encoding, into files of about SEGMENT_BYTES.

    decord's reader demuxes ahead of its decoder without limit, so on a whole file its
    memory grows to the file's size; on a part it is bounded by the part. Parts start
    on I-frames, so each decodes on its own; the frame times come from the packets.
    """
    import av

    with av.open(str(path)) as src:
        stream = src.streams.video[0]
        part: _PartWriter | None = None
        names = (folder / f"part{k:05d}.mkv" for k in itertools.count())
        for packet in src.demux(stream):
            if packet.dts is None or packet.pts is None:
                continue
            if part is not None and packet.is_keyframe and part.size >= SEGMENT_BYTES:
                yield part.close()
                part = None
            if part is None:
                part = _PartWriter(next(names), stream, rotation)
            part.add(packet)
        if part is not None:
            yield part.close()


def scan_video(
    path: Path,
    width: int,
    chunk_frames: int,
    min_shot_s: float,
    progress: Callable[[Progress], None] | None = None,
) -> VideoScan:
    """Decode `path` once at `width` and return its frame times, boundaries and statistics.

    `progress`, when given, is called after every chunk, so that work on finished shots
    (keyframes) can start while the rest of the file is still being decoded.
    """
    info = probe(path)
    size = fit(info.display_size, width)
    fps = info.fps or 25.0
    detector = ShotDetector(
        min_shot_frames=max(1, round(min_shot_s * fps)),
        dissolve_spans=tuple(max(1, round(s * fps)) for s in DISSOLVE_SPANS_S),
    )
    times: list[np.ndarray] = []
    stats: list[np.ndarray] = []
    keys: list[int] = []
    prev_luma, total = None, 0
    with tempfile.TemporaryDirectory(prefix="dataflux-video-") as tmp:
        try:
            for part in _parts(path, info.rotation, Path(tmp)):
                reader = open_reader(part.path, size)
                n = min(len(reader), len(part.times))
                times.append(part.times[:n])
                keys += [total + k for k in part.keys if k < n]
                known = np.concatenate(times) if progress else None
                for _, frames in chunks(reader, n, chunk_frames):
                    detector.feed(frames)
                    block = np.zeros((4, len(frames)), np.float32)
                    prev_luma = frame_stats(frames, prev_luma, block)
                    stats.append(block)
                    if progress:
                        ahead = detector.decided
                        progress(Progress(info, ahead, detector.cuts, known, np.asarray(keys)))
                total += n
                del reader
                part.path.unlink()
        except AnalysisError:
            raise
        except Exception as exc:
            reason = str(exc) or type(exc).__name__
            raise AnalysisError(f"the video cannot be read to the end: {reason}") from exc
    if not total:
        raise AnalysisError("the video stream has no frames")
    detector.finish()
    all_stats = np.concatenate(stats, axis=1)
    return VideoScan(
        info, np.concatenate(times), detector.boundaries, *all_stats, keys=np.asarray(keys)
    )


def frames_at(
    path: Path, info: VideoInfo, times: np.ndarray, keys: np.ndarray, wanted: list[int], width: int
) -> Iterator[tuple[int, np.ndarray]]:
    """(index, RGB at `width`) of each of the sorted frame indices `wanted`.

    Decoded with PyAV rather than decord: reaching a frame means decoding from the
    I-frame before it, and PyAV converts and scales only the frames asked for, where
    decord would convert every frame on the way. The decoder seeks only when the next
    wanted frame lies past an I-frame ahead of it, so a file is read forward at most once.
    """
    import av

    starts = times[:, 0]
    half = 0.5 * float(np.median(np.diff(starts))) if len(starts) > 1 else 0.02
    w, h = fit(info.display_size, width)
    turns = info.rotation // 90
    if turns % 2:
        w, h = h, w
    with av.open(str(path)) as container:
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
                    rgb = frame.to_ndarray(
                        width=w, height=h, format="rgb24", interpolation="BILINEAR"
                    )
                    yield pos, np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb
                    break
            else:
                raise AnalysisError(f"decoding stopped before frame {target} of {len(times)}")
