"""The frames every audio feature is read from: STFT geometry and filterbanks, framing and
magnitude spectra, per-frame flux and pitch-class profiles, and the streaming pass that
folds a file into per-window sums (`FrameScanner`, `Sums`).

Kept apart so the whole-clip estimators (`tempo`) and the streaming analyzer (`audio`)
cut and describe frames the same way, at the same ~93 ms frames every ~11.6 ms whatever
the sample rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from functools import lru_cache, reduce

import librosa
import numpy as np
import scipy.fft
from scipy import ndimage
from scipy.signal import get_window

FRAME_S = 2048 / 22050  # long enough to resolve semitones for chroma
HOP_S = 256 / 22050  # ~11.6 ms: 1% tempo precision needs sub-frame lags anyway

N_MFCC = 13
N_MELS = 128
CHUNK_FRAMES = 2048  # STFT frames per chunk (~24 s at the default rate)
MIN_WINDOW_S = 0.01  # a shorter tail (resampler rounding) joins the previous window


def frame_geometry(sr: int) -> tuple[int, int]:
    """(n_fft, hop) for ~93 ms frames every ~11.6 ms, the same in seconds at any rate."""
    return 2 * round(sr * FRAME_S / 2), max(1, round(sr * HOP_S))


@lru_cache
def semitone_filterbank(sr: int) -> np.ndarray:
    """Triangular bands a semitone apart: pitch changes show up as flux, unlike in mel."""
    freqs = np.fft.rfftfreq(frame_geometry(sr)[0], 1.0 / sr)
    edges = 27.5 * 2.0 ** (np.arange(0, 12 * np.log2(min(16000.0, sr / 2) / 27.5)) / 12)
    bands = []
    for lo, mid, hi in zip(edges[:-2], edges[1:-1], edges[2:], strict=True):
        band = np.clip(np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)), 0, None)
        if band.sum() > 0 and not (bands and np.allclose(band / band.sum(), bands[-1])):
            bands.append(band / band.sum())
    return np.array(bands, np.float32)


@lru_cache
def chroma_filterbank(sr: int) -> np.ndarray:
    return librosa.filters.chroma(sr=sr, n_fft=frame_geometry(sr)[0]).astype(np.float32)


@lru_cache
def mel_filterbank(sample_rate: int, n_fft: int) -> np.ndarray:
    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=N_MELS).astype(np.float32)


def frame_count(n_samples: int, sr: int) -> int:
    return 1 + n_samples // frame_geometry(sr)[1]


def frames(y: np.ndarray, first: int, stop: int, sr: int) -> np.ndarray:
    """Frames first..stop-1 as rows (a view); frame t is centred on sample t * hop."""
    n_fft, hop = frame_geometry(sr)
    start = first * hop - n_fft // 2
    end = start + (stop - first - 1) * hop + n_fft
    seg = y[max(start, 0) : max(min(end, len(y)), 0)]
    left = max(0, -start)
    seg = np.pad(seg, (left, end - start - left - len(seg)))
    return np.lib.stride_tricks.sliding_window_view(seg, n_fft)[::hop]


def frame_magnitude(rows: np.ndarray, sr: int) -> np.ndarray:
    """|FFT| of Hann-windowed frames, (bins, frames); a DC offset is removed first."""
    window = _hann(frame_geometry(sr)[0])
    rows = rows - (rows @ window / window.sum())[:, None]
    return np.abs(scipy.fft.rfft(rows * window, axis=1, workers=-1)).T


@lru_cache
def _hann(n_fft: int) -> np.ndarray:
    return get_window("hann", n_fft).astype(np.float32)


def magnitude(y: np.ndarray, sr: int) -> np.ndarray:
    """Magnitude spectrogram of a whole clip (the analyzer streams long files instead)."""
    y = np.asarray(y, np.float32)
    return frame_magnitude(frames(y, 0, frame_count(len(y), sr), sr), sr)


def describe_frames(
    mag: np.ndarray, sr: int, power: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spectral flux and chroma flux between consecutive frames, and pitch profiles.

    Spectral flux is SuperFlux-like: log-compressed semitone bands, each compared with
    the loudest neighbour band of the previous frame so vibrato does not count. Chroma
    flux compares loudness-normalised pitch-class profiles. Profiles are faded out in
    frames below about -60 dBFS, where they are noise; summed, the faded profiles weigh
    each note by its duration rather than its loudness, as the key profiles expect.
    Returns (T-1,), (T-1,) and (12, T) arrays for T frames; `power` is `mag**2` when
    the caller already has it.
    """
    bands = np.log1p(100.0 * (semitone_filterbank(sr) @ mag))
    widened = ndimage.maximum_filter1d(bands, 3, axis=0)
    spectral = np.maximum(bands[:, 1:] - widened[:, :-1], 0).mean(axis=0)
    chroma = chroma_filterbank(sr) @ (mag * mag if power is None else power)
    total = chroma.sum(axis=0)
    profile = chroma / np.maximum(total, 1e-20)
    full_scale = (frame_geometry(sr)[0] / 4) ** 2
    gate = np.clip((10 * np.log10(total / full_scale + 1e-20) + 60.0) / 20.0, 0, 1)
    change = np.maximum(profile[:, 1:] - profile[:, :-1], 0).sum(axis=0)
    return spectral, change * np.minimum(gate[1:], gate[:-1]), profile * gate


@dataclass
class Sums:
    """Additive statistics of one window; a track's are the sums of its windows'."""

    spectrum: np.ndarray  # magnitude per STFT bin, summed over frames
    samples: int = 0
    total: float = 0.0
    square: float = 0.0
    crossings: int = 0
    peak: float = 0.0
    frames: int = 0
    mfcc: np.ndarray = field(default_factory=lambda: np.zeros((2, N_MFCC)))  # sum, sum of squares
    chroma_frames: int = 0  # frames above -60 dBFS, the only ones with a chroma
    chroma: np.ndarray = field(default_factory=lambda: np.zeros((2, 12)))
    pitch: np.ndarray = field(default_factory=lambda: np.zeros(12))

    def __add__(self, other: Sums) -> Sums:
        merged = {f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        return Sums(**merged | {"peak": max(self.peak, other.peak)})

    @property
    def rms(self) -> float:
        """Root mean square about the mean (a DC offset is not heard)."""
        n = max(1, self.samples)
        mean = self.total / n
        return math.sqrt(max(self.square / n - mean * mean, 0.0))


def _power_sums(values: np.ndarray) -> np.ndarray:
    """Sums and sums of squares along frames, in float64: the variance subtracts them."""
    values = values.astype(np.float64)
    return np.stack([values.sum(axis=1), np.einsum("ij,ij->i", values, values)])


def moments(sums: np.ndarray, count: int) -> tuple[list[float], list[float]]:
    """Mean and standard deviation from (sum, sum of squares) rows."""
    if not count:
        return [0.0] * sums.shape[1], [0.0] * sums.shape[1]
    mean = sums[0] / count
    std = np.sqrt(np.maximum(sums[1] / count - mean * mean, 0))
    return [float(v) for v in mean], [float(v) for v in std]


class FrameScanner:
    """Turns pushed samples into STFT chunks and folds them into per-window sums.

    Besides the sums it keeps four float32 series per frame (level, zero-crossing rate,
    spectral and chroma flux): what tempo and the speech cues need whole.
    """

    def __init__(self, sample_rate: int, step: int) -> None:
        self.sr, self.step = sample_rate, step
        self.n_fft, self.hop = frame_geometry(sample_rate)
        self.half = self.n_fft // 2
        self.freqs = np.fft.rfftfreq(self.n_fft, 1.0 / sample_rate)
        self.mel = mel_filterbank(sample_rate, self.n_fft)
        self.full_scale = (self.n_fft / 4) ** 2  # peak bin of a full-scale sine
        self.pending: list[np.ndarray] = []
        self.buf = np.zeros((2, 0), np.float32)  # mono and peak amplitude rows
        self.origin = 0  # sample index of buf[:, 0]
        self.received = 0
        self.next_frame = 0
        self.windows: list[Sums] = []
        self.series: dict[str, list[np.ndarray]] = {
            k: [] for k in ("level_db", "zcr", "spectral_flux", "chroma_flux")
        }

    def push(self, mono: np.ndarray, amplitude: np.ndarray) -> None:
        """Next samples of the mono signal, and their peak amplitude over all channels."""
        self.pending.append(np.stack([mono, amplitude]))
        self.received += len(mono)
        while self.received >= (self.next_frame + CHUNK_FRAMES - 1) * self.hop + self.half:
            self._chunk(self.next_frame + CHUNK_FRAMES)

    def close(self) -> tuple[list[Sums], dict[str, np.ndarray]]:
        total = -(-self.received // self.hop)
        while self.next_frame < total:
            self._chunk(min(total, self.next_frame + CHUNK_FRAMES))
        count = max(1, math.ceil((self.received - MIN_WINDOW_S * self.sr) / self.step))
        windows = [*self.windows[: count - 1], reduce(Sums.__add__, self.windows[count - 1 :])]
        return windows, {k: np.concatenate(v) for k, v in self.series.items()}

    def _samples(self, start: int, stop: int) -> np.ndarray:
        """Rows (mono, peak) of samples [start, stop), zero outside the signal."""
        if self.pending:
            self.buf = np.concatenate([self.buf, *self.pending], axis=1)
            self.pending.clear()
        lo = max(start, self.origin)
        hi = min(stop, self.origin + self.buf.shape[1])
        part = self.buf[:, lo - self.origin : hi - self.origin]
        return np.pad(part, ((0, 0), (lo - start, stop - start - (lo - start) - part.shape[1])))

    def _window(self, index: int) -> Sums:
        while len(self.windows) <= index:
            self.windows.append(Sums(np.zeros(len(self.freqs))))
        return self.windows[index]

    def _chunk(self, t1: int) -> None:
        """Frames [next_frame, t1) and samples [next_frame * hop, t1 * hop)."""
        t0, hop = self.next_frame, self.hop
        lead = 1 if t0 else 0  # the frame before, for the flux of the first one
        origin = (t0 - lead) * hop - self.half  # sample index of y[0]
        y, amp = self._samples(origin, (t1 - 1) * hop + self.half)
        real = y[max(0, -origin) : max(0, self.received - origin)]
        centred = y - (float(real.mean(dtype=np.float64)) if real.size else 0.0)
        crossings = np.concatenate(
            [[0], np.cumsum(np.signbit(centred[1:]) != np.signbit(centred[:-1]))]
        )
        frames = self._frames(y, crossings, lead)
        s0, s1 = t0 * hop, min(t1 * hop, self.received)
        centres = np.arange(t0, t1) * hop
        for w in range(s0 // self.step, (max(s1, centres[-1] + 1) - 1) // self.step + 1):
            sums = self._window(w)
            a, b = max(s0, w * self.step) - origin, min(s1, (w + 1) * self.step) - origin
            if b > a:
                piece = y[a:b].astype(np.float64)
                sums.samples += b - a
                sums.total += float(piece.sum())
                sums.square += float(piece @ piece)
                sums.crossings += int(crossings[b - 1] - crossings[a])
                sums.peak = max(sums.peak, float(amp[a:b].max()))
            f = slice(*np.searchsorted(centres, [w * self.step, (w + 1) * self.step]))
            if f.stop > f.start:
                sums.frames += f.stop - f.start
                sums.spectrum += frames["mag"][:, f].sum(axis=1, dtype=np.float64)
                sums.mfcc += _power_sums(frames["mfcc"][:, f])
                sums.chroma_frames += int(frames["audible"][f].sum())
                sums.chroma += _power_sums(frames["chroma"][:, f])
                sums.pitch += frames["profile"][:, f].sum(axis=1, dtype=np.float64)
        keep = (t1 - 1) * hop - self.half - self.origin
        if keep > 0:
            self.buf, self.origin = self.buf[:, keep:], self.origin + keep
        self.next_frame = t1

    def _frames(self, y: np.ndarray, crossings: np.ndarray, lead: int) -> dict[str, np.ndarray]:
        """Spectral descriptors of the frames of `y` but the first `lead`; series appended."""
        rows = np.lib.stride_tricks.sliding_window_view(y, self.n_fft)[:: self.hop]
        mag = frame_magnitude(rows, self.sr)
        power = mag * mag
        s_flux, c_flux, profile = describe_frames(mag, self.sr, power)
        if not lead:
            s_flux, c_flux = np.concatenate([[0.0], s_flux]), np.concatenate([[0.0], c_flux])
        mag, power, profile = mag[:, lead:], power[:, lead:], profile[:, lead:]
        starts = np.arange(lead, len(rows)) * self.hop
        zcr = (crossings[starts + self.n_fft - 1] - crossings[starts]) / (self.n_fft - 1)
        mean_square = power.sum(axis=0) * 16 / (3 * self.n_fft**2)  # Parseval, Hann window
        for name, values in (
            ("level_db", 10 * np.log10(mean_square + 1e-12)),
            ("zcr", zcr),
            ("spectral_flux", s_flux),
            ("chroma_flux", c_flux),
        ):
            self.series[name].append(values.astype(np.float32))
        log_mel = 10 * np.log10(np.maximum(self.mel @ power / self.full_scale, 1e-8))
        peak_class = profile.max(axis=0)
        audible = peak_class > 0
        return {
            "mag": mag,
            "profile": profile,
            "mfcc": scipy.fft.dct(log_mel, type=2, norm="ortho", axis=0)[:N_MFCC],
            "audible": audible,
            "chroma": np.where(audible, profile / np.where(audible, peak_class, 1), 0),
        }
