"""The demo's landing set: one file of every kind, a sidecar, a duplicate, a bad file,
and real photographs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from dataflux_pipeline.cli.samples.media import (
    Shot,
    click_track,
    write_image,
    write_pdf,
    write_srt,
    write_video,
    write_wav,
)
from dataflux_pipeline.cli.samples.photos import write_photos

DEMO_CUES = [
    (0.2, 1.9, "Humpback whales sing long songs that carry for miles under the sea."),
    (2.0, 3.9, "The calf stays close to its mother during the migration north."),
    (4.0, 5.8, "Fishing boats return to the harbour before the storm arrives."),
]
DEMO_VIDEO_CUTS = (50, 100)

RECIPE_MD = """# Country bread

## Ingredients
Flour, water, salt and a spoon of sourdough starter make a simple loaf.

## Method
Knead the dough for ten minutes, let it rise overnight, then bake it in a hot oven
for forty minutes until the crust is deep brown.
"""

ASTRONOMY_PAGES = [
    "The Solar System\nEight planets orbit the Sun on nearly circular paths.\n"
    "Mercury is the closest planet and completes an orbit in 88 days.",
    "Gas giants\nJupiter and Saturn are made mostly of hydrogen and helium.\n"
    "Saturn's rings are made of countless pieces of ice and rock.",
]

NOTES_TXT = (
    "Meeting notes: the quarterly budget review moves to Thursday.\n\n"
    "Action item: finance team prepares the spending report for the board."
)


def write_demo_set(folder: Path, fixtures: Path | None = None) -> list[Path]:
    """The demo's landing set: one file of every kind, a sidecar, a duplicate, a bad file."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    video = folder / "whale_documentary.mp4"
    shots = [Shot(50, (20, 60, 140)), Shot(50, (200, 160, 40)), Shot(50, (40, 150, 60))]
    write_video(video, shots)
    written += [video, write_srt(folder / "whale_documentary.srt", DEMO_CUES)]
    written.append(write_wav(folder / "metronome_120bpm.wav", click_track(120, 12.0)))
    meta = {"title": "Metronome", "description": "A click track at 120 beats per minute"}
    (folder / "metronome_120bpm.json").write_text(json.dumps(meta))
    written.append(folder / "metronome_120bpm.json")
    written.append(write_image(folder / "sunset_beach.jpg", (230, 120, 40)))
    written += write_photos(folder)  # found by what they show (the `vision` extra)
    (folder / "bread_recipe.md").write_text(RECIPE_MD)
    (folder / "meeting_notes.txt").write_text(NOTES_TXT)
    (folder / "meeting_notes_copy.txt").write_text(NOTES_TXT)
    written += [
        folder / n for n in ("bread_recipe.md", "meeting_notes.txt", "meeting_notes_copy.txt")
    ]
    written.append(write_pdf(folder / "solar_system.pdf", ASTRONOMY_PAGES))
    broken = folder / "broken_clip.mp4"
    broken.write_bytes(video.read_bytes()[: video.stat().st_size // 3])
    written.append(broken)
    if fixtures and fixtures.is_dir():
        for src in sorted(fixtures.glob("audio/*.ogg")):
            for f in (src, src.with_suffix(".txt")):
                if f.exists():
                    written.append(Path(shutil.copyfile(f, folder / f.name)))
    return written
