"""Reading an audio track: the first audio stream of a file decoded through PyAV into
float32 blocks, the mono downmix, and BS.1770 loudness measured while the blocks go by.

Kept apart from the analysis so that the feature scan and speech to text decode the same
way. PyAV reads the audio track of a video container as it does an audio file. LUFS is
ITU-R BS.1770 integrated loudness (the K-weighting filters of pyloudnorm), measured per
channel before the mono downmix.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
from pyloudnorm.iirfilter import IIRfilter
from scipy.signal import sosfilt

from dataflux_pipeline.analyzers.base import AnalysisError

BLOCK_SAMPLES = 1 << 16  # decoded samples handed on at a time (~3 s)
LUFS_STEP_S = 0.1  # BS.1770 gating blocks are 4 steps long and overlap by 3
SURROUND = {"BL", "BR", "SL", "SR"}  # weighted +1.5 dB in BS.1770; LFE is left out


def error_reason(err: Exception) -> str:
    """What went wrong, for the error message: the OS reason, the text, or the type."""
    return getattr(err, "strerror", None) or str(err) or type(err).__name__


def has_audio(path: str | Path) -> bool:
    """Whether the container holds an audio stream (False if it cannot be opened)."""
    try:
        with av.open(str(path)) as container:
            return bool(container.streams.audio)
    except (av.FFmpegError, OSError, ValueError):
        return False


class AudioStream:
    """The first audio stream of a file as float32 (channels, n) blocks at `sample_rate`.

    A stream that breaks part-way keeps what decoded and says so in `warning`.
    """

    def __init__(self, path: str | Path, sample_rate: int) -> None:
        try:
            self._container = av.open(str(path))
        except (av.FFmpegError, OSError, ValueError) as err:
            raise AnalysisError(f"could not decode audio: {error_reason(err)}") from err
        if not self._container.streams.audio:
            self._container.close()
            raise AnalysisError("no audio stream")
        self._stream = self._container.streams.audio[0]
        ctx = self._stream.codec_context
        self.sample_rate = sample_rate
        self.source_rate = int(ctx.sample_rate or 0)
        self.channel_names = [c.name for c in ctx.layout.channels] if ctx.layout else []
        self.codec = ctx.name
        self.samples = 0
        self.warning: str | None = None

    def __enter__(self) -> AudioStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self._container.close()

    def __iter__(self) -> Iterator[np.ndarray]:
        resampler = av.AudioResampler(format="fltp", rate=self.sample_rate)
        try:
            for frame in self._container.decode(self._stream):
                yield from self._planes(resampler.resample(frame))
            yield from self._planes(resampler.resample(None))
        except (av.FFmpegError, ValueError) as err:
            if not self.samples:
                raise AnalysisError(f"could not decode audio: {error_reason(err)}") from err
            self.warning = f"decoding stopped early: {error_reason(err)}"
        if not self.samples:
            raise AnalysisError("audio stream is empty")

    def blocks(self, min_samples: int = BLOCK_SAMPLES) -> Iterator[np.ndarray]:
        """The decoded frames joined into blocks of at least `min_samples` (but the last)."""
        parts: list[np.ndarray] = []
        held = 0
        for planes in self:
            parts.append(planes)
            held += planes.shape[1]
            if held >= min_samples:
                yield np.concatenate(parts, axis=1)
                parts, held = [], 0
        if parts:
            yield np.concatenate(parts, axis=1)

    def _planes(self, frames: list[av.AudioFrame]) -> Iterator[np.ndarray]:
        for frame in frames:
            planes = frame.to_ndarray().astype(np.float32, copy=False)
            if planes.size:
                self.samples += planes.shape[1]
                yield planes


def mono(planes: np.ndarray) -> np.ndarray:
    """Mean of the channels.

    FFmpeg's own mono downmix adds channels at -3 dB, which reads a stereo file 3 dB
    too loud and can push peaks past full scale.
    """
    return planes[0] if len(planes) == 1 else planes.mean(axis=0, dtype=np.float32)


class LoudnessMeter:
    """BS.1770 loudness, streamed: K-weighted channel power summed per 100 ms step."""

    def __init__(self, sample_rate: int, channel_names: list[str]) -> None:
        stages = [
            IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, sample_rate, "high_shelf"),
            IIRfilter(0.0, 0.5, 38.0, sample_rate, "high_pass"),
        ]
        self._sos = np.array([np.concatenate([s.b, s.a]) / s.a[0] for s in stages])
        self._gains = np.array(
            [0.0 if c == "LFE" else 1.41 if c in SURROUND else 1.0 for c in channel_names] or [1.0]
        )
        self._zi: np.ndarray | None = None
        self.step = max(1, round(LUFS_STEP_S * sample_rate))
        self._steps: list[np.ndarray] = []
        self._carry = np.zeros(0)

    def feed(self, planes: np.ndarray) -> None:
        gains = self._gains if len(self._gains) == len(planes) else np.ones(len(planes))
        if self._zi is None:
            self._zi = np.zeros((len(self._sos), len(planes), 2))
        weighted, self._zi = sosfilt(self._sos, planes, axis=-1, zi=self._zi)
        power = np.concatenate([self._carry, gains @ (weighted * weighted)])
        whole = len(power) // self.step * self.step
        self._steps.append(power[:whole].reshape(-1, self.step).sum(axis=1))
        self._carry = power[whole:]

    def integrated(self, start: int, stop: int) -> float | None:
        """LUFS of samples [start, stop): None if shorter than one block or all below -70."""
        steps = np.concatenate(self._steps) if self._steps else np.zeros(0)
        self._steps = [steps]
        part = steps[-(-start // self.step) : stop // self.step]
        if len(part) < 4:
            return None
        z = np.lib.stride_tricks.sliding_window_view(part, 4).sum(axis=1) / (4 * self.step)
        with np.errstate(divide="ignore"):
            level = -0.691 + 10 * np.log10(z)
        kept = z[level >= -70.0]
        if not kept.size:
            return None
        relative = -0.691 + 10 * np.log10(kept.mean()) - 10.0
        kept = z[(level > relative) & (level > -70.0)]
        return float(-0.691 + 10 * np.log10(kept.mean()))
