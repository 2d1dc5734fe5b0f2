"""Audio analyzer: one track segment plus fixed windows, with loudness, timbre, tempo, key.

Decoding goes through PyAV, so the audio track of a video container is read the same
way as an audio file. The spectrum is computed once per file, in chunks so that memory
stays flat for long recordings, and each segment's features are slices of it.

Loudness (RMS, dBFS) and zero-crossing rate ignore a DC offset, which some field
recorders add and nobody hears; the peak is the raw sample peak, since that is what
clipping is about.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import av
import librosa
import numpy as np
import scipy.fft

from ..settings import Settings, get_settings
from . import tempo
from .base import AnalysisError, AnalysisResult, Analyzer, MediaItem, Segment

N_MFCC = 13
N_MELS = 128
CHUNK_FRAMES = 4096  # STFT frames per chunk (~48 s at the default rate)
BLOCK_SAMPLES = 1 << 20  # samples per float64 block for level statistics
MIN_TEMPO_S = 4.0  # shorter segments hold too few beats for a tempo
MIN_KEY_S = 2.0  # and too few notes for a key below this
MIN_WINDOW_S = 0.01  # a shorter tail (resampler rounding) joins the previous window
FLOOR_DB = -120.0  # level reported for digital silence


def _reason(err: Exception) -> str:
    return getattr(err, "strerror", None) or str(err) or type(err).__name__


def has_audio(path: str | Path) -> bool:
    """Whether the container holds an audio stream (False if it cannot be opened)."""
    try:
        with av.open(str(path)) as container:
            return bool(container.streams.audio)
    except (av.FFmpegError, OSError, ValueError):
        return False


@dataclass(frozen=True)
class DecodedAudio:
    samples: np.ndarray
    sample_rate: int
    source_rate: int
    channels: int
    codec: str
    warning: str | None = None

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


def _mono(frame: av.AudioFrame) -> np.ndarray:
    """Mean of a planar frame's channels.

    FFmpeg's own mono downmix adds channels at -3 dB, which reads a stereo file 3 dB
    too loud and can push peaks past full scale.
    """
    planes = frame.to_ndarray()
    return planes[0] if len(planes) == 1 else planes.mean(axis=0, dtype=np.float32)


def decode_audio(path: str | Path, sample_rate: int) -> DecodedAudio:
    """First audio stream as mono float32 at `sample_rate`; AnalysisError if unusable.

    A stream that breaks part-way keeps what decoded and says so in `warning`.
    """
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as err:
        raise AnalysisError(f"could not decode audio: {_reason(err)}") from err
    with container:
        if not container.streams.audio:
            raise AnalysisError("no audio stream")
        stream = container.streams.audio[0]
        ctx = stream.codec_context
        resampler = av.AudioResampler(format="fltp", rate=sample_rate)
        parts: list[np.ndarray] = []
        warning = None
        try:
            for frame in container.decode(stream):
                parts.extend(_mono(f) for f in resampler.resample(frame))
            parts.extend(_mono(f) for f in resampler.resample(None))
        except (av.FFmpegError, ValueError) as err:
            if not parts:
                raise AnalysisError(f"could not decode audio: {_reason(err)}") from err
            warning = f"decoding stopped early: {_reason(err)}"
    samples = np.concatenate(parts).astype(np.float32, copy=False) if parts else np.zeros(0)
    if not samples.size:
        raise AnalysisError("audio stream is empty")
    return DecodedAudio(
        samples=samples,
        sample_rate=sample_rate,
        source_rate=int(ctx.sample_rate or 0),
        channels=int(ctx.layout.nb_channels) if ctx.layout else 0,
        codec=ctx.name,
        warning=warning,
    )


@dataclass
class FrameFeatures:
    """Per-frame descriptors; frame t is centred on sample t * hop."""

    hop: int
    envelope: np.ndarray
    pitch: np.ndarray
    centroid_num: np.ndarray
    centroid_den: np.ndarray
    mfcc: np.ndarray

    def frames(self, start: int, stop: int) -> slice:
        """Frames centred inside samples [start, stop), at least one."""
        first = min(-(-start // self.hop), len(self.envelope) - 1)
        return slice(first, max(first + 1, min(-(-stop // self.hop), len(self.envelope))))


def frame_features(y: np.ndarray, sr: int) -> FrameFeatures:
    """Spectral descriptors of the whole signal, one STFT chunk at a time."""
    n_fft, hop = tempo.frame_geometry(sr)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr).astype(np.float32)
    mel = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=N_MELS).astype(np.float32)
    full_scale = (n_fft / 4) ** 2
    n_frames = tempo.frame_count(len(y), sr)
    spectral, chroma_flux, pitch, num, den, mfcc = [], [], [], [], [], []
    for t0 in range(0, n_frames, CHUNK_FRAMES):
        t1 = min(n_frames, t0 + CHUNK_FRAMES)
        lead = 1 if t0 else 0
        mag = tempo.frame_magnitude(tempo.frames(y, t0 - lead, t1, sr), sr)
        s_flux, c_flux, profile = tempo.describe_frames(mag, sr)
        spectral.append(s_flux if lead else np.concatenate([[0.0], s_flux]))
        chroma_flux.append(c_flux if lead else np.concatenate([[0.0], c_flux]))
        mag = mag[:, lead:]
        pitch.append(profile[:, lead:])
        num.append(freqs @ mag)
        den.append(mag.sum(axis=0))
        log_mel = 10 * np.log10(np.maximum(mel @ (mag * mag) / full_scale, 1e-8))
        mfcc.append(scipy.fft.dct(log_mel, type=2, norm="ortho", axis=0)[:N_MFCC])
    return FrameFeatures(
        hop=hop,
        envelope=tempo.combine_novelty(np.concatenate(spectral), np.concatenate(chroma_flux)),
        pitch=np.concatenate(pitch, axis=1),
        centroid_num=np.concatenate(num),
        centroid_den=np.concatenate(den),
        mfcc=np.concatenate(mfcc, axis=1),
    )


def _db(value: float) -> float:
    return max(FLOOR_DB, 20 * math.log10(value)) if value > 0 else FLOOR_DB


def level_stats(x: np.ndarray) -> tuple[float, float, float]:
    """(RMS, peak, zero-crossing rate) in float64 blocks, RMS and ZCR about the mean."""
    mean = float(np.mean(x, dtype=np.float64))
    square = 0.0
    crossings = 0
    for start in range(0, len(x), BLOCK_SAMPLES):
        block = x[max(0, start - 1) : start + BLOCK_SAMPLES].astype(np.float64) - mean
        own = block[1:] if start else block
        square += float(own @ own)
        crossings += int(np.count_nonzero(np.signbit(block[1:]) != np.signbit(block[:-1])))
    peak = max(float(x.max()), -float(x.min()))
    return math.sqrt(square / len(x)), peak, crossings / max(1, len(x) - 1)


class AudioAnalyzer(Analyzer):
    name: ClassVar[str] = "audio"
    version: ClassVar[str] = "1.0.0"
    media_type: ClassVar[str] = "audio"
    supported_mime_types: ClassVar[frozenset[str]] = frozenset(
        {
            "audio/ogg",
            "audio/mpeg",
            "audio/wav",
            "audio/x-wav",
            "audio/flac",
            "audio/x-flac",
            "audio/mp4",
            "audio/aac",
            "audio/webm",
            "audio/x-aiff",
        }
    )

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self._lock = threading.Lock()
        self._last: tuple[tuple[str, int, int, int], DecodedAudio] | None = None

    def decode(self, path: Path) -> DecodedAudio:
        """Decode once per file: segment() and analyze() of the same item share it."""
        sr = self.settings.audio_sample_rate
        try:
            stat = Path(path).stat()
        except OSError as err:
            raise AnalysisError(f"could not decode audio: {_reason(err)}") from err
        key = (str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size, sr)
        with self._lock:
            if self._last is not None and self._last[0] == key:
                return self._last[1]
        decoded = decode_audio(path, sr)
        with self._lock:
            self._last = (key, decoded)
        return decoded

    def segment(self, item: MediaItem) -> list[Segment]:
        audio = self.decode(item.path)
        sr, n = audio.sample_rate, len(audio.samples)
        track = self.new_segment(item, "track", 0, start_s=0.0, end_s=n / sr)
        step = max(1, round(self.settings.audio_window_s * sr))
        count = max(1, math.ceil((n - MIN_WINDOW_S * sr) / step))
        windows = [
            self.new_segment(
                item,
                "window",
                i,
                parent_id=track.segment_id,
                start_s=i * step / sr,
                end_s=(n if i == count - 1 else (i + 1) * step) / sr,
            )
            for i in range(count)
        ]
        return [track, *windows]

    def analyze(self, item: MediaItem, segments: list[Segment]) -> AnalysisResult:
        audio = self.decode(item.path)
        feats = frame_features(audio.samples, audio.sample_rate)
        rows = [
            self._row(item, seg, audio, feats)
            for seg in segments
            if seg.kind in ("track", "window") and seg.start_s is not None
        ]
        metadata: dict[str, Any] = {
            "sample_rate": audio.source_rate,
            "channels": audio.channels,
            "codec": audio.codec,
        }
        if audio.warning:
            metadata["decode_warning"] = audio.warning
        with self._lock:
            self._last = None
        return AnalysisResult(
            segments=list(segments),
            features={"features_audio": rows},
            metadata=metadata,
            duration_s=audio.duration_s,
        )

    def _row(
        self, item: MediaItem, seg: Segment, audio: DecodedAudio, feats: FrameFeatures
    ) -> dict[str, Any]:
        sr = audio.sample_rate
        start = min(round(seg.start_s * sr), len(audio.samples) - 1)
        stop = max(start + 1, min(round((seg.end_s or audio.duration_s) * sr), len(audio.samples)))
        rms, peak, zcr = level_stats(audio.samples[start:stop])
        frames = feats.frames(start, stop)
        duration = (stop - start) / sr
        den = float(feats.centroid_den[frames].sum())
        fps = sr / feats.hop
        tempo_bpm = (
            tempo.tempo_from_envelope(feats.envelope[frames], fps)
            if duration >= MIN_TEMPO_S
            else None
        )
        key = tempo.key_from_profile(feats.pitch[:, frames]) if duration >= MIN_KEY_S else None
        return self.stamp(
            {
                "segment_id": seg.segment_id,
                "asset_id": item.asset_id,
                "duration_s": duration,
                "tempo_bpm": tempo_bpm,
                "key": key[0] if key else None,
                "mode": key[1] if key else None,
                "loudness_db": _db(rms),
                "peak_db": _db(peak),
                "spectral_centroid_hz": float(feats.centroid_num[frames].sum() / den)
                if den > 0
                else None,
                "zero_crossing_rate": zcr,
                "mfcc_mean": [float(v) for v in feats.mfcc[:, frames].mean(axis=1)],
            }
        )
