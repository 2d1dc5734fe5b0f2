"""Audio analyzer: one track segment plus fixed windows, with loudness, timbre, tempo, key,
a speech/music/silence label and a descriptor vector per window, and a transcript when a
Whisper model is configured.

This module makes the rows and vectors; decoding is in `audio_decode`, frames and their
sums in `audio_frames`, tempo and key in `tempo`, the speech label in `speech` (the cue
vote) or `vad` (Silero, with the `speech` extra), which also adds `speech` segments. The file
is streamed: spectra are computed about 24 s at a time and folded into per-window sums
(`audio_frames.FrameScanner`), so the working set stays near 70 MB and only a few
per-frame series and the window sums grow with the length, by about 8 MB per hour. A
track's values are the sums of its windows', except tempo, which reads the whole onset
envelope.

Loudness (RMS, dBFS) and zero-crossing rate ignore a DC offset, which some field
recorders add and nobody hears; the peak is the raw sample peak over all channels, since
that is what clipping is about. LUFS is ITU-R BS.1770 integrated loudness, measured per
channel before the mono downmix (`audio_decode.LoudnessMeter`).
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from functools import cached_property, lru_cache, reduce
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.fft
from threadpoolctl import threadpool_limits

from dataflux_pipeline.analyzers.audio import speech, tempo, vad
from dataflux_pipeline.analyzers.audio.decode import AudioStream, LoudnessMeter, error_reason, mono
from dataflux_pipeline.analyzers.audio.frames import (
    N_MFCC,
    FrameScanner,
    Sums,
    frame_geometry,
    mel_filterbank,
    moments,
)
from dataflux_pipeline.analyzers.base import (
    AnalysisError,
    AnalysisResult,
    Analyzer,
    MediaItem,
    Segment,
    Vector,
)
from dataflux_pipeline.settings import Settings, get_settings

log = logging.getLogger(__name__)

MIN_TEMPO_S = 4.0  # shorter segments hold too few beats for a tempo
MIN_KEY_S = 2.0  # and too few notes for a key below this
FLOOR_DB = -120.0  # level reported for digital silence
ROLLOFF = 0.85  # share of spectral magnitude below the rolloff frequency
DESCRIPTOR_MODEL = "dataflux-audio"
DESCRIPTOR_VERSION = "1"


@dataclass
class Scan:
    """What one streaming pass over a file leaves: window sums and per-frame series."""

    sample_rate: int
    samples: int
    hop: int
    step: int
    windows: list[Sums]
    series: dict[str, np.ndarray]
    loudness: LoudnessMeter
    metadata: dict[str, Any]

    @property
    def duration_s(self) -> float:
        return self.samples / self.sample_rate

    @cached_property
    def envelope(self) -> np.ndarray:
        """Onset strength per frame, both fluxes scaled over the whole file."""
        return tempo.combine_novelty(self.series["spectral_flux"], self.series["chroma_flux"])

    def frames(self, start: int, stop: int) -> slice:
        """Frames centred inside samples [start, stop), at least one."""
        total = len(self.series["level_db"])
        first = min(-(-start // self.hop), total - 1)
        return slice(first, max(first + 1, min(-(-stop // self.hop), total)))


def scan_audio(path: str | Path, sample_rate: int, window_s: float) -> Scan:
    """One streaming pass: decode, loudness, spectra, folded into `window_s` windows.

    BLAS runs single-threaded here: the products are small, and on a busy two-core
    worker OpenBLAS threads spin waiting for each other (4x slower, measured).
    """
    step = max(1, round(window_s * sample_rate))
    with threadpool_limits(1, user_api="blas"), AudioStream(path, sample_rate) as stream:
        meter = LoudnessMeter(sample_rate, stream.channel_names)
        scanner = FrameScanner(sample_rate, step)
        for planes in stream.blocks():
            meter.feed(planes)
            amplitude = np.abs(planes).max(axis=0) if len(planes) > 1 else np.abs(planes[0])
            scanner.push(mono(planes), amplitude)
        windows, series = scanner.close()
    metadata: dict[str, Any] = {
        "sample_rate": stream.source_rate,
        "channels": len(stream.channel_names),
        "codec": stream.codec,
    }
    if stream.warning:
        metadata["decode_warning"] = stream.warning
    return Scan(sample_rate, stream.samples, scanner.hop, step, windows, series, meter, metadata)


def _db(value: float) -> float:
    return max(FLOOR_DB, 20 * math.log10(value)) if value > 0 else FLOOR_DB


def _spectral_shape(spectrum: np.ndarray, sample_rate: int) -> tuple[float, ...] | None:
    """Centroid, bandwidth and rolloff (Hz) of a long-term magnitude spectrum."""
    freqs = np.fft.rfftfreq(2 * (len(spectrum) - 1), 1.0 / sample_rate)
    total = float(spectrum.sum())
    if total <= 0:
        return None
    centroid = float(freqs @ spectrum) / total
    bandwidth = math.sqrt(max(float((freqs - centroid) ** 2 @ spectrum) / total, 0.0))
    rolloff = float(freqs[np.searchsorted(np.cumsum(spectrum), ROLLOFF * total)])
    return centroid, bandwidth, rolloff


_LIFTER = 1 + 11 * np.sin(np.pi * np.arange(N_MFCC) / 22)  # HTK's: evens out cepstral scales
_BLOCK_WEIGHTS = (1.0, 1.0, 0.5, 0.5)  # timbre first; harmony moves within a piece
DESCRIPTOR_DIM = (N_MFCC - 1) + N_MFCC + 12 + 12


@lru_cache
def _pink_mfcc(sample_rate: int) -> np.ndarray:
    """MFCCs of a 1/f spectrum, the rough long-term shape of both music and speech."""
    n_fft = frame_geometry(sample_rate)[0]
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    power = np.where(freqs > 0, 1.0 / np.maximum(freqs, 1e-9), 0.0)
    log_mel = 10 * np.log10(np.maximum(mel_filterbank(sample_rate, n_fft) @ power, 1e-12))
    return scipy.fft.dct(log_mel, type=2, norm="ortho")[:N_MFCC]


def descriptor(sums: Sums, sample_rate: int) -> np.ndarray | None:
    """A fixed-length unit vector of timbre and harmony statistics; None for no sound.

    Four blocks, each scaled to unit length so that none dominates by its units, then
    weighted: MFCC means without c0 (the spectral envelope, not the level) taken relative
    to pink noise so that the tilt all sounds share does not make them all look alike;
    MFCC standard deviations (how the envelope moves); and the chroma means and standard
    deviations about their own mean (which pitch classes sound, how the harmony changes).
    """
    mfcc_mean, mfcc_std = (np.array(v) for v in moments(sums.mfcc, sums.frames))
    chroma_mean, chroma_std = (np.array(v) for v in moments(sums.chroma, sums.chroma_frames))
    blocks = [
        ((mfcc_mean - _pink_mfcc(sample_rate)) * _LIFTER)[1:],
        mfcc_std * _LIFTER,
        chroma_mean - chroma_mean.mean(),
        chroma_std - chroma_std.mean(),
    ]
    if not sums.frames or np.linalg.norm(blocks[1]) < 1e-6:
        return None
    parts = []
    for block, weight in zip(blocks, _BLOCK_WEIGHTS, strict=True):
        norm = float(np.linalg.norm(block))
        parts.append(block * (weight / norm) if norm > 1e-9 else np.zeros_like(block))
    vector = np.concatenate(parts)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


@lru_cache(maxsize=1)
def _note_no_whisper() -> None:
    log.info("speech to text skipped: DATAFLUX_WHISPER_MODEL is not set")


class AudioAnalyzer(Analyzer):
    name: ClassVar[str] = "audio"
    version: ClassVar[str] = "1.2.0"  # 1.2: the speech label from voice activity
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
        self._last: tuple[tuple[Any, ...], Scan] | None = None

    def scan(self, path: Path) -> Scan:
        """Scan once per file: segment() and analyze() of the same item share it."""
        sr, window_s = self.settings.audio_sample_rate, self.settings.audio_window_s
        try:
            stat = Path(path).stat()
        except OSError as err:
            raise AnalysisError(f"could not decode audio: {error_reason(err)}") from err
        key = (str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size, sr, window_s)
        with self._lock:
            if self._last is not None and self._last[0] == key:
                return self._last[1]
        scanned = scan_audio(path, sr, window_s)
        with self._lock:
            self._last = (key, scanned)
        return scanned

    def segment(self, item: MediaItem) -> list[Segment]:
        scan = self.scan(item.path)
        sr, n, step = scan.sample_rate, scan.samples, scan.step
        track = self.new_segment(item, "track", 0, start_s=0.0, end_s=n / sr)
        count = len(scan.windows)
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
        scan = self.scan(item.path)
        result = AnalysisResult(
            segments=list(segments), metadata=dict(scan.metadata), duration_s=scan.duration_s
        )
        windows = [s for s in segments if s.kind == "window" and s.index < len(scan.windows)]
        rows = [self._row(item, seg, scan, scan.windows[seg.index]) for seg in windows]
        voice = vad.detect(item.path, self.settings)
        for seg, row in zip(windows, rows, strict=True):
            if voice is not None:
                label = voice.label(seg.start_s, seg.end_s, row["audio_class"])
                row["audio_class"], row["speech_score"] = label
            if row["audio_class"] == "silence":
                continue  # no timbre to compare; every silence would match every other
            vector = descriptor(scan.windows[seg.index], scan.sample_rate)
            if vector is not None:
                result.vectors.append(self._vector(seg, vector))
        labels = [(r["duration_s"], r["audio_class"], r["speech_score"]) for r in rows]
        for track in (s for s in segments if s.kind == "track"):
            total = reduce(Sums.__add__, scan.windows)
            rows.append(self._row(item, track, scan, total, speech.overall(labels)))
            if voice is not None:
                result.segments += voice.segments(item, track)
            result.segments += self._transcript(item, track, voice, result.metadata)
        result.add_features("features_audio", rows)
        with self._lock:
            self._last = None
        return result

    def _row(
        self,
        item: MediaItem,
        seg: Segment,
        scan: Scan,
        sums: Sums,
        label: tuple[str, float | None] | None = None,
    ) -> dict[str, Any]:
        """Feature row of a window (labelled from its frames) or of the track (`label`)."""
        sr = scan.sample_rate
        start = min(round(seg.start_s * sr), scan.samples - 1)
        stop = max(start + 1, min(round((seg.end_s or scan.duration_s) * sr), scan.samples))
        frames = scan.frames(start, stop)
        duration = (stop - start) / sr
        if label is None:
            series = {k: v[frames] for k, v in scan.series.items()}
            label = speech.classify(_db(sums.rms), series, sr / scan.hop)
        tempo_bpm = (
            tempo.tempo_from_envelope(scan.envelope[frames], sr / scan.hop)
            if duration >= MIN_TEMPO_S
            else None
        )
        key = tempo.key_from_profile(sums.pitch) if duration >= MIN_KEY_S else None
        shape = _spectral_shape(sums.spectrum, sr)
        mfcc_mean, mfcc_std = moments(sums.mfcc, sums.frames)
        chroma_mean, chroma_std = moments(sums.chroma, sums.chroma_frames)
        return self.stamp(
            {
                "segment_id": seg.segment_id,
                "asset_id": item.asset_id,
                "duration_s": duration,
                "tempo_bpm": tempo_bpm,
                "key": key[0] if key else None,
                "mode": key[1] if key else None,
                "loudness_db": _db(sums.rms),
                "peak_db": _db(sums.peak),
                "spectral_centroid_hz": shape[0] if shape else None,
                "zero_crossing_rate": sums.crossings / max(1, sums.samples - 1),
                "mfcc_mean": mfcc_mean,
                "lufs": scan.loudness.integrated(start, stop),
                "spectral_bandwidth_hz": shape[1] if shape else None,
                "spectral_rolloff_hz": shape[2] if shape else None,
                "mfcc_std": mfcc_std,
                "chroma_mean": chroma_mean,
                "chroma_std": chroma_std,
                "audio_class": label[0],
                "speech_score": label[1],
            }
        )

    def _vector(self, seg: Segment, vector: np.ndarray) -> Vector:
        return Vector(
            segment_id=seg.segment_id,
            asset_id=seg.asset_id,
            space="audio",
            model=DESCRIPTOR_MODEL,
            model_version=DESCRIPTOR_VERSION,
            vector=vector.tolist(),
        )

    def _transcript(
        self, item: MediaItem, track: Segment, voice: vad.Speech | None, metadata: dict
    ) -> list[Segment]:
        """Whisper transcript pieces as time-coded text segments under the track, and the
        language spoken in `metadata`."""
        if not self.settings.whisper_model:
            _note_no_whisper()
            return []
        model = speech.load_transcriber(self.settings)
        if model is None:
            return []
        keep = voice.any_in if voice is not None else None
        with AudioStream(item.path, model.sample_rate) as stream:
            pieces = speech.transcribe((mono(p) for p in stream.blocks()), model, keep)
        if pieces:
            start = voice.first_speech() if voice is not None else pieces[0].start_s
            metadata["speech_language"] = speech.language(item.path, model, start)
        engine = getattr(model, "engine", "whisper")
        return [
            self.new_segment(
                item,
                "transcript",
                n,
                parent_id=track.segment_id,
                start_s=piece.start_s,
                end_s=piece.end_s,
                text=piece.text,
            ).model_copy(update={"analyzer": engine, "analyzer_version": model.version})
            for n, piece in enumerate(pieces)
        ]
