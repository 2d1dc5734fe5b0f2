"""Synthetic media with known ground truth, for the demo, the tests and the benchmarks."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FPS = 25


@dataclass(frozen=True)
class Shot:
    frames: int
    colour: tuple[int, int, int]
    fade_out: int = 0


def _shot_frame(shot: Shot, i: int, size: tuple[int, int], rng_tex: np.ndarray) -> np.ndarray:
    """A textured frame with a moving square, so shots have motion but no cuts inside."""
    w, h = size
    base = np.array(shot.colour, np.float32)
    img = np.clip(base + rng_tex[:h, :w, None] * 40.0 - 20.0, 0, 255)
    side = max(8, h // 5)
    x = int((i * 3) % max(1, w - side))
    y = int(h / 2 - side / 2 + (h / 4) * np.sin(i / 7.0))
    img[y : y + side, x : x + side] = 255 - base
    if shot.fade_out and i >= shot.frames - shot.fade_out:
        img *= (shot.frames - i) / (shot.fade_out + 1)
    return img.astype(np.uint8)


def write_video(
    path: Path,
    shots: Sequence[Shot],
    size: tuple[int, int] = (320, 240),
    fps: int = FPS,
    audio_hz: float | None = 440.0,
    seed: int = 0,
) -> list[int]:
    """Write H.264 (+AAC) with hard cuts between shots; returns the cut frame indices."""
    import av

    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    cuts: list[int] = []
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.options = {"preset": "ultrafast", "g": "50"}
        aus = _audio_stream(out) if audio_hz else None
        frame_no = 0
        for n, shot in enumerate(shots):
            if n:
                cuts.append(frame_no)
            tex = rng.random((h, w), dtype=np.float32)
            for i in range(shot.frames):
                frame = av.VideoFrame.from_ndarray(_shot_frame(shot, i, size, tex), format="rgb24")
                frame.pts = frame_no
                for packet in vs.encode(frame):
                    out.mux(packet)
                frame_no += 1
        for packet in vs.encode():
            out.mux(packet)
        if aus is not None:
            _mux_tone(out, aus, audio_hz, frame_no / fps)
    return cuts


def _audio_stream(out, sr: int = 22050):
    stream = out.add_stream("aac", rate=sr)
    stream.layout = "mono"
    return stream


def _mux_tone(out, stream, hz: float, seconds: float, sr: int = 22050) -> None:
    import av

    t = np.arange(int(seconds * sr)) / sr
    samples = (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    for start in range(0, len(samples), 1024):
        frame = av.AudioFrame.from_ndarray(
            samples[None, start : start + 1024], format="fltp", layout="mono"
        )
        frame.sample_rate = sr
        frame.pts = start
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)


def click_track(bpm: float, seconds: float, sr: int = 22050, accent_every: int = 4) -> np.ndarray:
    """Short decaying clicks on every beat, the downbeat louder."""
    y = np.zeros(int(seconds * sr), np.float32)
    click = np.sin(2 * np.pi * 1500 * np.arange(int(0.03 * sr)) / sr)
    click *= np.exp(-np.arange(click.size) / (0.005 * sr))
    beat = 0
    while (start := round(beat * 60.0 / bpm * sr)) < y.size:
        gain = 0.9 if beat % accent_every == 0 else 0.5
        end = min(y.size, start + click.size)
        y[start:end] += gain * click[: end - start]
        beat += 1
    return y


def tone(hz: float, seconds: float, sr: int = 22050, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def write_wav(path: Path, y: np.ndarray, sr: int = 22050) -> Path:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), y, sr, subtype="PCM_16")
    return path


def write_srt(path: Path, cues: Sequence[tuple[float, float, str]]) -> Path:
    def ts(s: float) -> str:
        ms = round(s * 1000)
        return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    body = "\n".join(
        f"{n}\n{ts(a)} --> {ts(b)}\n{text}\n" for n, (a, b, text) in enumerate(cues, 1)
    )
    path.write_text(body, encoding="utf-8")
    return path


def write_image(path: Path, colour: tuple[int, int, int], size=(256, 192), seed: int = 0) -> Path:
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    img = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        x, y = rng.integers(0, size[0] - 40), rng.integers(0, size[1] - 40)
        fill = tuple(int(c) for c in rng.integers(0, 255, 3))
        draw.ellipse([x, y, x + 40, y + 40], fill=fill)
    exif = Image.Exif()
    exif[0x010F] = "DataFlux Camera"  # Make
    exif[0x0110] = "Synthetic 1"  # Model
    img.save(path, exif=exif, quality=90)
    return path


def write_pdf(path: Path, pages: Sequence[str]) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    for page in pages:
        text = c.beginText(50, 780)
        for line in page.splitlines():
            text.textLine(line)
        c.drawText(text)
        c.showPage()
    c.save()
    return path


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


@dataclass(frozen=True)
class Transition:
    """How a shot gives way to the next, for `write_edit`.

    kind: "cut"; "fade" (ramp to black, `hold` black frames, ramp up); "fade_out" (ramp
    to black, then a hard cut in); "fade_in" (hard cut to `hold` black frames, ramp up);
    "dissolve" (the shots overlap for `frames` frames, mixed linearly).
    """

    kind: str = "cut"
    frames: int = 0
    hold: int = 0


@dataclass(frozen=True)
class TrueBoundary:
    """Ground truth: [start, end) are the frames that belong to neither shot purely."""

    kind: str
    start: int
    end: int


class Scene:
    """One shot's content: a smooth colour field with shapes and grain, panned across
    (steadily, or starting and stopping like a camera move), with a moving square; drawn
    in uint8 so that 1080p frames stay cheap."""

    def __init__(
        self, seed: int, size: tuple[int, int], frames: int, palette: int | None = None
    ) -> None:
        from PIL import Image, ImageDraw

        rng = np.random.default_rng(seed)
        w, h = size
        self.size, self.pan = size, float(rng.choice([0, 0, 0.5, 1.5, 3, 8])) * w / 640
        self.frames, self.eased = max(1, frames), bool(rng.random() < 0.4)
        wide = w + int(self.pan * frames) + 1
        tint = np.random.default_rng(seed if palette is None else palette)
        hue = tint.random()
        field = np.clip(
            (_hue_rgb(hue) * 200 + 30)[None, None]
            + tint.normal(0, 40, (4, 6, 3))
            + (_hue_rgb(hue + 0.5) * 60)[None, None] * tint.random((4, 6, 1)),
            0,
            255,
        ).astype(np.uint8)
        img = Image.fromarray(field).resize((wide, h), Image.Resampling.BICUBIC)
        draw = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(4, 9))):
            x, y = rng.random() * wide, rng.random() * h
            r = (0.05 + 0.15 * rng.random()) * h
            fill = tuple(int(c) for c in rng.integers(0, 256, 3))
            shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
            shape([x - r, y - r, x + r, y + r], fill=fill)
        grain = rng.integers(0, 20, (h, wide, 1), dtype=np.uint8)
        self.texture = np.asarray(img, np.uint8) // 8 * 7 + grain
        self.square = np.uint8(255) - self.texture[h // 2, w // 2]
        self.side, self.speed = max(4, h // 6), (1.0 + 3 * rng.random()) * w / 640

    def frame(self, i: int) -> np.ndarray:
        w, h = self.size
        t = min(1.0, i / self.frames)
        x0 = int(self.pan * self.frames * (3 * t * t - 2 * t**3) if self.eased else self.pan * i)
        img = self.texture[:, x0 : x0 + w].copy()
        x = int(i * self.speed * 2) % max(1, w - self.side)
        y = int((h - self.side) * (0.5 + 0.3 * np.sin(i / 9.0)))
        img[y : y + self.side, x : x + self.side] = self.square
        return img


def _hue_rgb(hue: float) -> np.ndarray:
    return np.clip(np.abs((hue * 6 + np.array([0.0, 4.0, 2.0])) % 6 - 3) - 1, 0, 1)


def _mix(a: np.ndarray, b: np.ndarray | None, weight: float) -> np.ndarray:
    """(1 - weight) * a + weight * b, b being black when None."""
    w = round(weight * 256)
    out = a.astype(np.uint16) * (256 - w)
    if b is not None:
        out += b.astype(np.uint16) * w
    return (out >> 8).astype(np.uint8)


def edit_frames(shots: Sequence[int], transitions: Sequence[Transition], scenes):
    """Yield every frame of the edit, and return its true boundaries when done."""
    black = np.zeros_like(scenes[0].frame(0))
    truth: list[TrueBoundary] = []
    pos, skip = 0, 0  # frames written; frames of this shot already shown by a dissolve
    for k, n in enumerate(shots):
        out = transitions[k] if k < len(transitions) else Transition()
        back = transitions[k - 1] if k else Transition()
        ramp_in = back.frames if back.kind in ("fade", "fade_in") else 0
        ramp_out = out.frames if out.kind in ("fade", "fade_out") else 0
        mix = out.frames if out.kind == "dissolve" and k + 1 < len(shots) else 0
        for i in range(skip, n):
            img = scenes[k].frame(i)
            if i < ramp_in:
                img = _mix(black, img, i / ramp_in)
            j = i - (n - ramp_out)
            if j >= 0:
                img = _mix(img, None, (j + 1) / ramp_out)
            j = i - (n - mix)
            if j >= 0:
                img = _mix(img, scenes[k + 1].frame(j), (j + 1) / (mix + 1))
            yield img
        pos += n - skip  # the first frame after this shot's own frames
        if k + 1 == len(shots):
            break
        start = pos if out.kind == "fade_in" else pos - max(ramp_out, mix)
        hold = out.hold if out.kind in ("fade", "fade_in") else 0
        for _ in range(hold):
            yield black
        pos += hold
        ramp = out.frames if out.kind in ("fade", "fade_in") else 0
        truth.append(TrueBoundary(out.kind, start, pos + ramp))
        skip = mix
    return truth


def write_edit(
    path: Path,
    shots: Sequence[int],
    transitions: Sequence[Transition],
    size: tuple[int, int] = (320, 180),
    fps: int = FPS,
    seed: int = 0,
    scene_seeds: Sequence[int] | None = None,
    palettes: Sequence[int | None] | None = None,
    preset: str = "veryfast",
) -> list[TrueBoundary]:
    """H.264 of shots joined by cuts, fades and dissolves; returns the true boundaries.

    Shot k shows `shots[k]` frames of its scene (a dissolve overlaps the last frames of
    one shot with the first of the next). `scene_seeds` lets two files share a shot;
    shots given the same `palettes` entry share colours (two angles of one scene).
    """
    import av

    seeds = scene_seeds or [seed * 1000 + k for k in range(len(shots))]
    tints = palettes or [None] * len(shots)
    scenes = [Scene(s, size, n, p) for s, n, p in zip(seeds, shots, tints, strict=True)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
        vs.options = {"preset": preset, "crf": "23"}
        vs.thread_type = "AUTO"
        frames = edit_frames(shots, transitions, scenes)
        n = 0
        while True:
            try:
                img = next(frames)
            except StopIteration as stop:
                truth = stop.value
                break
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = n
            n += 1
            out.mux(vs.encode(frame))
        out.mux(vs.encode())
    return truth


NEAR_DUPLICATE_EDITS = ("resized", "recompressed", "brightened", "combined")


def scene_image(seed: int, size: tuple[int, int] = (320, 240), palette: int | None = None):
    """A still of a `Scene` as a PIL image; the same `palette` gives a look-alike."""
    from PIL import Image

    return Image.fromarray(Scene(seed, size, 50, palette).frame(seed % 50))


def near_duplicate(img, edit: str):
    """A copy of a PIL image as people make them: smaller, re-compressed or brightened."""
    import io

    from PIL import Image, ImageEnhance

    def jpeg(im, quality: int):
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=quality)
        return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")

    def scale(im, f: float):
        return im.resize((round(im.width * f), round(im.height * f)), Image.Resampling.BICUBIC)

    if edit == "resized":
        return scale(img, 0.5)
    if edit == "recompressed":
        return jpeg(img, 30)
    if edit == "brightened":
        return ImageEnhance.Brightness(img).enhance(1.12)
    if edit == "combined":
        return jpeg(ImageEnhance.Brightness(scale(img, 0.7)).enhance(1.08), 50)
    raise ValueError(f"unknown edit {edit!r}")
