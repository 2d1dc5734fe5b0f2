"""Clips with speech at known times, for voice activity tests and benchmarks: slices of a
speech recording spliced with music, whale song and silence, and speech over quieter
music, with a per-sample truth of where the speech is.

A speech slice counts as speech whole, its short pauses between words included, which is
how people mark speech (and what a search for a spoken phrase should land in)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
SPEECH = "5703-47212-0000.ogg"  # LibriSpeech, read speech
NOT_SPEECH = (
    "Kevin_MacLeod_-_Vibe_Ace.ogg",
    "sorohanro_-_solo-trumpet-06.ogg",
    "glacier-bay-humpback.ogg",
)


def load(path: Path, sr: int = SAMPLE_RATE) -> np.ndarray:
    """A file as mono float32 at `sr`."""
    from dataflux_pipeline.analyzers.audio.decode import AudioStream, mono

    with AudioStream(path, sr) as stream:
        return np.concatenate([mono(block) for block in stream.blocks()]).astype(np.float32)


def _slice(rng, audio: np.ndarray, seconds: float, sr: int) -> np.ndarray:
    n = min(len(audio), int(seconds * sr))
    start = int(rng.integers(0, len(audio) - n + 1))
    return audio[start : start + n]


def spliced_clip(
    seed: int, speech: np.ndarray, others: Sequence[np.ndarray], sr: int = SAMPLE_RATE
) -> tuple[np.ndarray, np.ndarray]:
    """(audio, speech mask per sample): eight parts, each speech, speech over music at
    -10 dB, music or whale song, or silence (with a little noise), in a seeded order."""
    rng = np.random.default_rng(seed)
    parts, truth = [], []
    kinds = ["speech", "speech", "backed", "other", "other", "silence", "silence", "other"]
    for kind in rng.permutation(kinds):
        seconds = float(rng.uniform(2.0, 7.0))
        if kind == "silence":
            piece = rng.normal(0, 1e-4, int(seconds * sr)).astype(np.float32)
        elif kind == "other":
            piece = _slice(rng, others[int(rng.integers(len(others)))], seconds, sr)
        else:
            piece = _slice(rng, speech, seconds, sr)
            if kind == "backed":
                bed = _slice(rng, others[0], len(piece) / sr, sr)[: len(piece)]
                bed = np.pad(bed, (0, len(piece) - len(bed)))
                piece = piece + bed * (10 ** (-10 / 20)) * _rms(piece) / max(_rms(bed), 1e-9)
        parts.append(piece.astype(np.float32))
        truth.append(np.full(len(piece), kind in ("speech", "backed")))
    return np.concatenate(parts), np.concatenate(truth)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def frames_of(mask: np.ndarray, sr: int, frame_s: float) -> np.ndarray:
    """A per-sample mask as per-frame labels (a frame is speech if most of it is)."""
    hop = int(frame_s * sr)
    n = len(mask) // hop
    return mask[: n * hop].reshape(n, hop).mean(axis=1) >= 0.5


def regions_mask(regions, n_frames: int, frame_s: float) -> np.ndarray:
    """Per-frame labels from (start, end) second spans."""
    centres = (np.arange(n_frames) + 0.5) * frame_s
    out = np.zeros(n_frames, bool)
    for start, end in regions:
        out |= (centres >= start) & (centres < end)
    return out


def f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    tp = float(np.sum(truth & predicted))
    precision = tp / max(1.0, float(predicted.sum()))
    recall = tp / max(1.0, float(truth.sum()))
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


# What the reader says in SPEECH, for word error rates. Its two place names are spelled as
# the independent recognizers we could compare agree; they may differ from LibriSpeech's.
SPEECH_TEXT = (
    "with her white paint and her scarlet smokestack the inverashiel one of the two small "
    "steamers that during the summer months plied up and down the loch and incidentally "
    "carried on communication between inverashiel and crianan"
)
