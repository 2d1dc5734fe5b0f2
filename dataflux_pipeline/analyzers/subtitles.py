"""SRT and WebVTT cues, so a video's spoken lines become time-coded text segments."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_TIME = re.compile(
    r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})\s*-->\s*(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})"
)
_TAGS = re.compile(r"<[^>]+>|\{\\[^}]*\}")


@dataclass(frozen=True)
class Cue:
    start_s: float
    end_s: float
    text: str


def _seconds(h: str | None, m: str, s: str, ms: str) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(ms.ljust(3, "0")) / 1000


def parse_cues(text: str) -> list[Cue]:
    """Cues from SRT or VTT text; markup tags stripped, empty cues dropped."""
    cues: list[Cue] = []
    for block in re.split(r"\r?\n\s*\r?\n", text.replace("\ufeff", "")):
        lines = block.strip().splitlines()
        for n, line in enumerate(lines):
            m = _TIME.search(line)
            if not m:
                continue
            body = " ".join(_TAGS.sub("", x).strip() for x in lines[n + 1 :]).strip()
            if body:
                g = m.groups()
                cues.append(Cue(_seconds(*g[:4]), _seconds(*g[4:]), body))
            break
    return cues


def read_cues(path: Path) -> list[Cue]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return parse_cues(text)
