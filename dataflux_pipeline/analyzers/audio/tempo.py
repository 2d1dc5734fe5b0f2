"""Tempo and key, with plain numpy/scipy and no beat tracker, from the onset envelope and
pitch-class profiles of the frames that `audio_frames` cuts.

Stock estimators take one autocorrelation peak under a tempo prior and so confuse the
metrical levels of real recordings (a sixteenth-note trumpet line at 90 BPM reads as
123 or 184). Here tempo is found in two steps:

1. The *tatum*, the fastest regular pulse: the autocorrelation lag of the onset
   envelope whose binary chain (lag, 2 lag, 4 lag, ...) holds the most periodicity,
   refined below a frame by parabolic interpolation and averaging over its first few
   multiples, so the tempo is precise even for loose human timing.
2. The *beat*: the tatum or a binary multiple of it, scored by a log-normal tempo
   preference (listeners favour periods near 0.55 s) times its evidence. Groupings of
   the tatum count as much as the tatum's pairs are heard as accented; the tatum itself
   counts for the rest, so an unaccented metronome keeps its own rate while a dense
   melody is grouped into the beat range.

The onset envelope adds a pitch-change novelty (chroma flux) to the usual spectral flux,
so legato melodies, whose notes change pitch without an attack, still mark their onsets.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.signal import correlate, find_peaks

from dataflux_pipeline.analyzers.audio.frames import describe_frames, frame_geometry, magnitude

MIN_LAG_S = 0.1  # fastest tatum: sixteenths at 150 BPM
MAX_TATUM_S = 1.5  # slowest pulse taken on its own (40 BPM)
MAX_LAG_S = 4.0  # longest lag looked at, for the chains of slow pulses
MIN_CLARITY = 0.15  # weaker periodicity than this is not a pulse (speech, ambience)
SUBDIVISION_SHARE = 0.3  # a tatum candidate needs this share of the strongest peak
CHAIN_TOLERANCE = 0.08  # relative slack when matching doublings of a lag
REFINE_MULTIPLES = 4  # up to the beat of a sixteenth-note tatum
PREFERRED_BPM = 110.0  # centre of the tempo preference (0.55 s)
PREFERENCE_OCTAVES = 0.4  # its width
MAX_GROUPING = 3  # beats of up to 8 tatums
ACF_BLOCK = 1 << 16  # envelope frames correlated at a time (~12 min)

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_KEY_TEMPLATES = np.array(
    [np.roll((p - p.mean()) / p.std(), tonic) / 12 for p in (_MAJOR, _MINOR) for tonic in range(12)]
)


def combine_novelty(spectral: np.ndarray, chroma_flux: np.ndarray) -> np.ndarray:
    """Both fluxes scaled to unit mean, so neither dominates by its units."""
    env = np.zeros(len(spectral), np.float64)
    for part in (spectral, chroma_flux):
        mean = float(np.mean(part)) if len(part) else 0.0
        if mean > 0:
            env += part / mean
    return env


def onset_envelope(y: np.ndarray, sr: int) -> np.ndarray:
    """Onset strength per hop; entry 0 is frame 0 (no change before it)."""
    spectral, chroma_flux, _ = describe_frames(magnitude(y, sr), sr)
    return np.concatenate([[0.0], combine_novelty(spectral, chroma_flux)])


def _autocorrelation(env: np.ndarray, max_lag: float) -> np.ndarray:
    """Normalised autocorrelation at lags 0 .. max_lag + 2, one block at a time.

    Only short lags are ever read, so a long track's envelope is correlated in blocks
    rather than by one FFT of its whole length (hundreds of MB for ten hours).
    """
    e = env - env.mean()
    lags = min(len(e), int(max_lag) + 3)
    ac = np.zeros(lags)
    for start in range(0, len(e), ACF_BLOCK):
        block = e[start : start + ACF_BLOCK]
        ahead = e[start : start + len(block) + lags - 1]
        ahead = np.pad(ahead, (0, len(block) + lags - 1 - len(ahead)))
        ac += correlate(ahead, block, mode="valid")
    return ac / ac[0] if ac[0] > 0 else np.zeros_like(ac)


def _peaks(ac: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Positive local maxima in [lo, hi], at sub-frame lags by parabolic interpolation."""
    idx, _ = find_peaks(ac[: int(hi) + 2])
    idx = idx[(idx >= lo) & (idx <= hi) & (ac[idx] > 0)]
    a, b, c = ac[idx - 1], ac[idx], ac[idx + 1]
    curve = a - 2 * b + c
    shift = np.where(curve < 0, 0.5 * (a - c) / np.where(curve < 0, curve, -1), 0.0)
    return idx + shift, b - 0.25 * (a - c) * shift


def _refine(lag: float, lags: np.ndarray, heights: np.ndarray) -> float:
    """Height-weighted mean period over the peaks near the first few multiples of `lag`.

    Only up to the beat of a sixteenth-note tatum: longer lags mostly measure
    phrase-level timing, which drifts in expressive playing.
    """
    period = lag
    for _ in range(3):
        m = np.arange(1, REFINE_MULTIPLES + 1)
        near = np.abs(lags[None, :] - m[:, None] * period)
        best = near.argmin(axis=1)
        ok = near[m - 1, best] <= np.minimum(0.06 * m * period, period / 3)
        if not ok.any():
            break
        w = heights[best[ok]]
        period = float(np.sum(w * lags[best[ok]] / m[ok]) / np.sum(w))
    return period


def _accent(env: np.ndarray, period: float, fps: float) -> float:
    """How much louder a grouping's beats are than its off-beats, in [0, 1].

    Folded in blocks of a few seconds so a slow tempo drift does not blur the phase.
    """
    smooth = ndimage.gaussian_filter1d(env, 0.02 * fps)
    block = int(max(6.0 * fps, 4 * period))
    phases = np.arange(int(np.ceil(period)))
    num = den = 0.0
    for start in range(0, max(1, len(smooth) - int(2 * period) + 1), block):
        part = smooth[start : start + block]
        beats = np.arange(int((len(part) - 1 - phases[-1]) / period) + 1) * period
        if len(beats) < 2:
            break
        profile = np.interp(phases[:, None] + beats[None, :], np.arange(len(part)), part)
        profile = profile.mean(axis=1)
        on = int(profile.argmax())
        off = np.interp((phases[on] + period / 2) % period, phases, profile, period=period)
        if profile[on] > 0:
            num += profile[on] - off
            den += profile[on]
    return float(np.clip(num / den, 0, 1)) if den > 0 else 0.0


def pulse_clarity(env: np.ndarray, fps: float) -> float:
    """Height of the strongest autocorrelation peak at a tatum-like lag, in [0, 1].

    Near 0 for speech and ambience, whose onsets do not recur at a fixed period.
    """
    env = np.asarray(env, np.float64)
    max_lag = min(MAX_TATUM_S * fps, len(env) / 2)
    if max_lag <= MIN_LAG_S * fps + 2 or not np.any(env > 0):
        return 0.0
    _, heights = _peaks(_autocorrelation(env, max_lag), MIN_LAG_S * fps, max_lag)
    return float(np.clip(heights.max(), 0, 1)) if heights.size else 0.0


def _preference(bpm: float) -> float:
    return float(np.exp(-0.5 * (np.log2(bpm / PREFERRED_BPM) / PREFERENCE_OCTAVES) ** 2))


def _tatum(lags: np.ndarray, heights: np.ndarray, max_lag: float, fps: float) -> float | None:
    """The lag whose binary chain (lag, 2 lag, 4 lag, ...) holds the most periodicity.

    Candidates are peaks with a fair share of the strongest one. Scoring whole chains
    rather than single peaks keeps a loop's bar, or an odd multiple such as a swung
    five-tatum figure, from being taken for the pulse; the fastest consistent level wins
    because its chain has the most members.
    """
    search = lags <= MAX_TATUM_S * fps
    if not search.any() or heights[search].max() < MIN_CLARITY:
        return None
    pick = search & (heights >= SUBDIVISION_SHARE * heights[search].max())

    def chain(i: int) -> float:
        """Own height plus the best peak near each doubling (timing may be loose)."""
        levels = lags[i] * 2.0 ** np.arange(1, int(np.log2(max_lag / lags[i])) + 1)
        near = np.abs(lags[None, :] - levels[:, None]) <= CHAIN_TOLERANCE * levels[:, None]
        return float(heights[i] + np.where(near, heights[None, :], 0).max(axis=1, initial=0).sum())

    return float(lags[max(np.flatnonzero(pick), key=chain)])


def tempo_from_envelope(env: np.ndarray, fps: float) -> float | None:
    """Beats per minute of an onset envelope sampled at `fps`; None without a clear pulse."""
    env = np.asarray(env, np.float64)
    max_lag = min(MAX_LAG_S * fps, len(env) / 2)
    if max_lag <= MIN_LAG_S * fps + 2 or not np.any(env > 0):
        return None
    lags, heights = _peaks(_autocorrelation(env, max_lag), MIN_LAG_S * fps, max_lag)
    lag = _tatum(lags, heights, max_lag, fps)
    if lag is None:
        return None
    tatum = _refine(lag, lags, heights)
    grouped = _accent(env, 2 * tatum, fps)
    levels = [60.0 * fps / (tatum * 2**k) for k in range(MAX_GROUPING + 1)]
    scores = [_preference(bpm) * (grouped if k else 1.0 - grouped) for k, bpm in enumerate(levels)]
    return float(levels[int(np.argmax(scores))])


def estimate_tempo(y: np.ndarray, sr: int) -> float | None:
    """Tempo in BPM, octave-correct for metronomes and for sixteenth-note melodies alike."""
    return tempo_from_envelope(onset_envelope(y, sr), sr / frame_geometry(sr)[1])


def key_from_profile(profile: np.ndarray) -> tuple[str, str] | None:
    """Krumhansl–Schmuckler: the key profile best correlated with the pitch classes.

    `profile` is (12,) or (12, T) from `describe_frames`, C first.
    """
    profile = np.asarray(profile, np.float64)
    profile = profile.sum(axis=1) if profile.ndim == 2 else profile
    if profile.sum() <= 0 or np.ptp(profile) == 0:
        return None
    z = (profile - profile.mean()) / profile.std()
    best = int(np.argmax(_KEY_TEMPLATES @ z))
    return PITCH_CLASSES[best % 12], ("major", "minor")[best // 12]


def estimate_key(y: np.ndarray, sr: int) -> tuple[str, str] | None:
    """(tonic, "major" | "minor"), e.g. ("F", "major"); None for silence."""
    return key_from_profile(describe_frames(magnitude(y, sr), sr)[2])
