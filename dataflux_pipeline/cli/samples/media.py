"""Media files with known ground truth: H.264 video with cuts, WAV tones and click
tracks, subtitles, textured images and PDFs."""

from __future__ import annotations

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
