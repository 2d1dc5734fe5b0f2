"""Where people speak, from Silero VAD (the `speech` extra): speech regions of a file,
which replace the cue vote of `speech.py` for the speech label and become `speech`
segments, and which tell the transcriber which chunks hold speech (Whisper invents text
over music). Measured against the cue vote in bench/models.py (frame-level F1).

A window is labelled speech when speech covers at least half of it; its `speech_score`
is the share it covers. Windows the level calls silent stay silent, and the rest are
music, the one other class there is. The file is decoded again at 16 kHz for the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dataflux_pipeline.analyzers.audio.decode import AudioStream, mono
from dataflux_pipeline.analyzers.base import MediaItem, Segment
from dataflux_pipeline.settings import Settings

NAME = "vad"
SPEECH_SHARE = 0.5  # of a window, for the window to be speech


@dataclass(frozen=True)
class Speech:
    regions: list[tuple[float, float]]  # seconds
    version: str  # of the model that found them

    def covered(self, start_s: float, end_s: float) -> float:
        """Seconds of speech between two moments."""
        return sum(max(0.0, min(b, end_s) - max(a, start_s)) for a, b in self.regions)

    def label(self, start_s: float, end_s: float, cue_label: str) -> tuple[str, float | None]:
        """(label, speech score) of a span the level-and-cue classifier called `cue_label`."""
        if cue_label == "silence":
            return "silence", None
        share = self.covered(start_s, end_s) / max(end_s - start_s, 1e-9)
        return ("speech" if share >= SPEECH_SHARE else "music"), share

    def any_in(self, start_s: float, end_s: float) -> bool:
        return self.covered(start_s, end_s) > 0

    def first_speech(self) -> float:
        return self.regions[0][0] if self.regions else 0.0

    def segments(self, item: MediaItem, track: Segment) -> list[Segment]:
        """A `speech` segment per region, under the track."""
        return [
            Segment(
                segment_id=item.sid("speech", n),
                asset_id=item.asset_id,
                kind="speech",
                index=n,
                parent_id=track.segment_id,
                start_s=start,
                end_s=end,
                analyzer=NAME,
                analyzer_version=self.version,
            )
            for n, (start, end) in enumerate(self.regions)
        ]


def detect(path: str | Path, settings: Settings) -> Speech | None:
    """Speech regions of a file, or None when VAD is off or not installed."""
    if not settings.vad:
        return None
    from dataflux_pipeline.models.vad import load_vad, speech_regions

    model = load_vad(settings.device)
    if model is None:
        return None
    with AudioStream(path, model.sample_rate) as stream:
        probs = model.probabilities(mono(block) for block in stream.blocks())
    regions = speech_regions(probs, settings.vad_threshold)
    return Speech(regions, f"{model.name}-{model.version}")
