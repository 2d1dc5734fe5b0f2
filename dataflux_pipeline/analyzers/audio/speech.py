"""Where speech is and what it says.

Speech, music or silence per window, model-free. Silence is a window whose RMS is below
-50 dBFS. Otherwise four classic cues (Scheirer & Slaney 1997; Lu, Zhang & Jiang 2002)
each vote, scaled around the point where speech and music part:

- low-energy share: speech pauses between syllables and words, so many frames sit well
  below the local mean level; most music sustains.
- chroma flux: spoken pitch glides, so the pitch-class profile changes from frame to
  frame; notes hold a pitch.
- zero-crossing variation: speech alternates voiced sounds and noisy consonants, so the
  zero-crossing rate swings; an instrument's stays near its pitch.
- pulse clarity: music's onsets recur at a beat; speech's do not (votes for music).

The mean vote, squashed to (0, 1), is `speech_score`; above 0.5 is speech. The parting
points sit between the speech and music fixtures (a LibriSpeech reader, a jazz track, a
trumpet solo) and hold for quieter, noisier and music-backed speech; sounds that are
neither (noise, a steady tone, whale song) come out as music, there being no fourth class.

Speech to text cuts the audio into the 30 s chunks Whisper was trained on, skips silent
ones and, when voice activity is known (`vad.py`), those without speech (Whisper invents
text over silence and music), and runs them through the model in batches. The model is
faster-whisper for a CTranslate2 folder (`model.bin`), else the transformers Whisper for a
Hugging Face folder: that path stays because fine-tuned Whisper checkpoints come in that
format and need no conversion there; faster-whisper is the faster and smaller of the two.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from scipy import ndimage

from dataflux_pipeline.analyzers.audio import tempo
from dataflux_pipeline.models.transcripts import TranscriptPiece
from dataflux_pipeline.settings import Settings

SILENCE_DB = -50.0  # RMS below which a window counts as silence
ACTIVE_DB = -50.0  # frames quieter than this are pauses, left out of the voiced cues
MIN_ACTIVE = 10  # frames with sound needed before the cues mean anything
# (cue, point where speech and music part, spread of one vote, +1 speech / -1 music)
CUES = (
    ("low_energy", 0.22, 0.08, 1.0),
    ("chroma_flux", 0.066, 0.012, 1.0),
    ("zcr_variation", 0.85, 0.25, 1.0),
    ("pulse_clarity", 0.22, 0.1, -1.0),
)
MAX_VOTE = 3.0


def speech_cues(series: dict[str, np.ndarray], fps: float) -> dict[str, float]:
    """The four cues from per-frame level (dBFS), ZCR and flux series."""
    level = series["level_db"].astype(np.float64)
    active = level > ACTIVE_DB
    if active.sum() < MIN_ACTIVE:
        return {}
    rms = 10 ** (level / 20)
    local = ndimage.uniform_filter1d(rms, max(1, round(fps)), mode="nearest")
    zcr = series["zcr"][active].astype(np.float64)
    cues = {
        "low_energy": float(np.mean(rms < 0.5 * local)),
        "chroma_flux": float(series["chroma_flux"][active].mean()),
        "zcr_variation": float(zcr.std() / zcr.mean()) if zcr.mean() > 0 else 0.0,
    }
    if len(level) >= 2 * fps:
        env = tempo.combine_novelty(series["spectral_flux"], series["chroma_flux"])
        cues["pulse_clarity"] = tempo.pulse_clarity(env, fps)
    return cues


def speech_score(cues: dict[str, float]) -> float | None:
    """Logistic of the mean vote; a cue too far past its parting point counts no more."""
    votes = [
        sign * float(np.clip((cues[name] - centre) / spread, -MAX_VOTE, MAX_VOTE))
        for name, centre, spread, sign in CUES
        if name in cues
    ]
    return 1 / (1 + math.exp(-float(np.mean(votes)))) if votes else None


def classify(
    level_db: float, series: dict[str, np.ndarray], fps: float
) -> tuple[str, float | None]:
    """("speech" | "music" | "silence", speech score) for one window's frames."""
    if level_db < SILENCE_DB:
        return "silence", None
    score = speech_score(speech_cues(series, fps))
    if score is None:
        return "silence", None
    return ("speech" if score > 0.5 else "music"), score


def overall(labels: Sequence[tuple[float, str, float | None]]) -> tuple[str, float | None]:
    """A track's class (the one covering most time) and duration-weighted speech score."""
    if not labels:
        return "silence", None
    time: dict[str, float] = {}
    for duration, label, _ in labels:
        time[label] = time.get(label, 0.0) + duration
    scored = [(d, s) for d, _, s in labels if s is not None]
    weight = sum(d for d, _ in scored)
    score = sum(d * s for d, s in scored) / weight if weight > 0 else None
    return max(time, key=lambda k: (time[k], k != "silence")), score


class Transcriber(Protocol):
    sample_rate: int
    chunk_samples: int
    batch_size: int

    def transcribe(self, chunks: list[np.ndarray]) -> list[list[TranscriptPiece]]: ...


def chunks(blocks: Iterable[np.ndarray], size: int) -> Iterator[tuple[int, np.ndarray]]:
    """(first sample, samples) of consecutive `size`-sample chunks; the last may be short."""
    parts: list[np.ndarray] = []
    held = start = 0
    for block in blocks:
        parts.append(block)
        held += len(block)
        while held >= size:
            joined = np.concatenate(parts)
            yield start, joined[:size]
            start += size
            parts, held = [joined[size:]], held - size
    if held:
        yield start, np.concatenate(parts)


def _silent(chunk: np.ndarray) -> bool:
    rms = float(np.std(chunk, dtype=np.float64))
    return rms <= 0 or 20 * math.log10(rms) < SILENCE_DB


def load_transcriber(settings: Settings) -> Transcriber | None:
    """The model DATAFLUX_WHISPER_MODEL names (loaded once per process), or None when its
    package is missing (one log line)."""
    from dataflux_pipeline.models.faster_whisper import (
        PACKAGED,
        is_ctranslate2,
        load_faster_whisper,
        packaged_folder,
    )

    folder: str | Path | None = settings.whisper_model
    if folder == PACKAGED:
        folder = packaged_folder(settings.home / "models" / "whisper-base")
        if folder is None:
            return None
    device, batch = settings.device, settings.whisper_batch_size
    if is_ctranslate2(folder):
        return load_faster_whisper(str(folder), device, batch)
    from dataflux_pipeline.models.whisper import load_whisper

    return load_whisper(str(folder), device, batch)


def transcribe(
    blocks: Iterable[np.ndarray],
    model: Transcriber,
    keep: Callable[[float, float], bool] | None = None,
) -> list[TranscriptPiece]:
    """Time-coded transcript of mono `blocks` at the model's rate, in order; chunks that
    are silent, or for which `keep(start_s, end_s)` is false, are not sent."""
    pieces: list[TranscriptPiece] = []
    batch: list[tuple[float, np.ndarray]] = []

    def flush() -> None:
        results = model.transcribe([c for _, c in batch])
        for (offset, _), found in zip(batch, results, strict=True):
            pieces.extend(
                TranscriptPiece(offset + p.start_s, offset + p.end_s, p.text) for p in found
            )
        batch.clear()

    rate = model.sample_rate
    for start, chunk in chunks(blocks, model.chunk_samples):
        wanted = keep is None or keep(start / rate, (start + len(chunk)) / rate)
        if wanted and not _silent(chunk):
            batch.append((start / rate, chunk))
        if len(batch) == model.batch_size:
            flush()
    if batch:
        flush()
    return pieces


def language(path: str | Path, model: Transcriber, start_s: float) -> str | None:
    """The language spoken in the 30 s chunk where speech starts, for models that can
    tell (faster-whisper); None for the others."""
    from dataflux_pipeline.analyzers.audio.decode import AudioStream, mono

    detect = getattr(model, "language", None)
    if detect is None:
        return None
    first = start_s * model.sample_rate
    with AudioStream(path, model.sample_rate) as stream:
        for begin, chunk in chunks((mono(p) for p in stream.blocks()), model.chunk_samples):
            if begin + len(chunk) > first:
                return detect(chunk)
    return None
