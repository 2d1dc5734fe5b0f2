"""Edited video with known boundaries (cuts, fades, dissolves) and near-duplicate images,
for the analyzer benchmarks and tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dataflux_pipeline.cli.samples.media import FPS

DISTRACTORS = ("flash", "whip", "shake", "object")
P_HARD = [0.25, 0.35, 0.15, 0.125, 0.125]  # cut, dissolve, fade, fade_out, fade_in


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


@dataclass(frozen=True)
class Distractor:
    """A big change inside a shot that is not a boundary, for `write_edit`.

    kind: "flash" (a camera flash: the picture blown `strength` of the way to white,
    fading back over `frames`); "whip" (the camera pans `strength` picture widths in
    `frames` frames, starting and stopping abruptly, with motion blur); "shake" (a
    handheld jolt: the picture jumps by up to `strength` x 5% of its width each frame);
    "object" (a shape a third of the picture's height crosses it in `frames` frames).
    `at` is the shot's frame it starts on.
    """

    kind: str
    at: int
    frames: int
    strength: float = 1.0


class Scene:
    """One shot's content: a smooth colour field with shapes and grain, panned across
    (steadily, or starting and stopping like a camera move), with a moving square; drawn
    in uint8 so that 1080p frames stay cheap. `events` add distractors."""

    def __init__(
        self,
        seed: int,
        size: tuple[int, int],
        frames: int,
        palette: int | None = None,
        events: Sequence[Distractor] = (),
    ) -> None:
        from PIL import Image, ImageDraw

        rng = np.random.default_rng(seed)
        w, h = size
        self.size, self.pan = size, float(rng.choice([0, 0, 0.5, 1.5, 3, 8])) * w / 640
        self.frames, self.eased = max(1, frames), bool(rng.random() < 0.4)
        self.events = tuple(events)
        self._jolts = self._shake(seed)
        self.margin = max([abs(d) for j in self._jolts.values() for d in j] or [0])
        whips = sum(e.strength * w for e in self.events if e.kind == "whip")
        wide = w + int(self.pan * frames + whips) + 1 + 2 * self.margin
        tall = h + 2 * self.margin
        tint = np.random.default_rng(seed if palette is None else palette)
        hue = tint.random()
        field = np.clip(
            (_hue_rgb(hue) * 200 + 30)[None, None]
            + tint.normal(0, 40, (4, 6, 3))
            + (_hue_rgb(hue + 0.5) * 60)[None, None] * tint.random((4, 6, 1)),
            0,
            255,
        ).astype(np.uint8)
        img = Image.fromarray(field).resize((wide, tall), Image.Resampling.BICUBIC)
        draw = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(4, 9))):
            x, y = rng.random() * wide, rng.random() * tall
            r = (0.05 + 0.15 * rng.random()) * h
            fill = tuple(int(c) for c in rng.integers(0, 256, 3))
            shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
            shape([x - r, y - r, x + r, y + r], fill=fill)
        grain = rng.integers(0, 20, (tall, wide, 1), dtype=np.uint8)
        self.texture = np.asarray(img, np.uint8) // 8 * 7 + grain
        self.square = np.uint8(255) - self.texture[tall // 2, w // 2]
        self.side, self.speed = max(4, h // 6), (1.0 + 3 * rng.random()) * w / 640

    def _shake(self, seed: int) -> dict[int, tuple[int, int]]:
        """Frame -> (dx, dy) of every shaken frame."""
        rng = np.random.default_rng(seed + 1)
        jolts = {}
        for e in self.events:
            if e.kind == "shake":
                amp = e.strength * 0.05 * self.size[0]
                for i in range(e.at, e.at + e.frames):
                    jolts[i] = tuple(int(v) for v in rng.uniform(-amp, amp, 2))
        return jolts

    def _whip(self, i: int) -> tuple[float, float]:
        """How far whip pans have moved the camera by frame i, and its speed there."""
        moved, speed = 0.0, 0.0
        for e in self.events:
            if e.kind == "whip" and i >= e.at:
                per_frame = e.strength * self.size[0] / e.frames
                moved += per_frame * min(i - e.at, e.frames)
                speed += per_frame if i < e.at + e.frames else 0.0
        return moved, speed

    def frame(self, i: int) -> np.ndarray:
        w, h = self.size
        t = min(1.0, i / self.frames)
        x0 = int(self.pan * self.frames * (3 * t * t - 2 * t**3) if self.eased else self.pan * i)
        moved, speed = self._whip(i)
        dx, dy = self._jolts.get(i, (0, 0))
        x0 += int(moved) + self.margin + dx
        y0 = self.margin + dy
        img = self.texture[y0 : y0 + h, x0 : x0 + w].copy()
        if speed >= 2:  # motion blur: the mean of the pixels swept during the frame
            run = int(speed)
            strip = self.texture[y0 : y0 + h, x0 : x0 + w + run].astype(np.uint32)
            sums = np.concatenate([np.zeros_like(strip[:, :1]), np.cumsum(strip, axis=1)], 1)
            img = ((sums[:, run : run + w] - sums[:, :w]) // run).astype(np.uint8)
        x = int(i * self.speed * 2) % max(1, w - self.side)
        y = int((h - self.side) * (0.5 + 0.3 * np.sin(i / 9.0)))
        img[y : y + self.side, x : x + self.side] = self.square
        for e in self.events:
            if e.kind == "object" and e.at <= i < e.at + e.frames:
                self._object(img, e, i)
            if e.kind == "flash" and e.at <= i < e.at + e.frames:
                weight = e.strength * (1 - (i - e.at) / e.frames)
                img = 255 - _mix(255 - img, None, weight)
        return img

    def _object(self, img: np.ndarray, e: Distractor, i: int) -> None:
        """A disc a third of the height high, crossing from left to right."""
        w, h = self.size
        r = h // 6
        cx = int(-r + (w + 2 * r) * (i - e.at) / max(1, e.frames - 1))
        cy = int(h * (0.3 + 0.4 * ((e.at * 7919) % 100) / 100))
        ys, xs = np.ogrid[-r : r + 1, -r : r + 1]
        disc = xs * xs + ys * ys <= r * r
        x_lo, x_hi = max(0, cx - r), min(w, cx + r + 1)
        y_lo, y_hi = max(0, cy - r), min(h, cy + r + 1)
        if x_lo < x_hi and y_lo < y_hi:
            mask = disc[y_lo - cy + r : y_hi - cy + r, x_lo - cx + r : x_hi - cx + r]
            img[y_lo:y_hi, x_lo:x_hi][mask] = (230, 220, 40) if e.at % 2 else (30, 40, 200)


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
    distractors: Sequence[Sequence[Distractor]] | None = None,
) -> list[TrueBoundary]:
    """H.264 of shots joined by cuts, fades and dissolves; returns the true boundaries.

    Shot k shows `shots[k]` frames of its scene (a dissolve overlaps the last frames of
    one shot with the first of the next). `scene_seeds` lets two files share a shot;
    shots given the same `palettes` entry share colours (two angles of one scene);
    `distractors[k]` happen inside shot k (frame numbers count from its first frame).
    """
    import av

    seeds = scene_seeds or [seed * 1000 + k for k in range(len(shots))]
    tints = palettes or [None] * len(shots)
    events = distractors or [()] * len(shots)
    scenes = [
        Scene(s, size, n, p, e) for s, n, p, e in zip(seeds, shots, tints, events, strict=True)
    ]
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


def hard_edit(rng: np.random.Generator, shots: int) -> tuple[list[int], list, list]:
    """Shot lengths, transitions and distractors for `write_edit` of an edit meant to
    fool a shot detector: cuts, and fades and dissolves from 4 to 60 frames, with one or
    two flashes, whip pans, shakes or fast-crossing objects inside every shot, at least
    8 frames clear of its transitions."""
    plan = []
    for _ in range(shots - 1):
        kind = str(rng.choice(["cut", "dissolve", "fade", "fade_out", "fade_in"], p=P_HARD))
        frames = 0 if kind == "cut" else int(rng.choice([4, 6, 10, 16, 24, 40, 60]))
        hold = int(rng.integers(7)) if kind in ("fade", "fade_in") else 0
        plan.append(Transition(kind, frames, hold))
    lengths, events = [], []
    for k in range(shots):
        into = plan[k - 1].frames if k else 0
        out = plan[k].frames if k < shots - 1 else 0
        n = max(int(rng.integers(75, 151)), into + out + 60)
        lo, hi = into + 8, n - out - 8  # distractors stay this far from transitions
        mine = []
        for j in range(int(rng.integers(1, 3))):
            kind = DISTRACTORS[(k + 2 * j) % len(DISTRACTORS)]
            length = int(rng.integers(1, 4)) if kind == "flash" else int(rng.integers(8, 17))
            half = (hi - lo) // 2  # the first event in the first half, the second after it
            start = lo + j * half + int(rng.integers(0, max(1, half - length)))
            strength = {"flash": 0.5 + 0.4 * rng.random(), "whip": 0.6 + 1.2 * rng.random()}
            mine.append(Distractor(kind, start, length, strength.get(kind, 1.0)))
        lengths.append(n)
        events.append(mine)
    return lengths, plan, events


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
