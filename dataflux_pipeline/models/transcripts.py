"""What a speech-to-text model hands back, shared by every transcriber and the analyzer
that turns it into segments."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TranscriptPiece:
    """Text a model heard between two moments, in seconds from the start of its input."""

    start_s: float
    end_s: float
    text: str
