"""Shot ranges, and keyframes chosen from thumbnails the scan's one decode already made.

A shot's keyframe is the sharpest of up to five frames near its middle (30-70% of the
shot); its JPEG, descriptor, dominant colours and the candidates' mean sharpness are
computed as soon as the shot can no longer change, and only those are kept.

Which frames lie near a shot's middle is known only once the shot ends, so the decoder
scales the frame on screen at every point of a SAMPLE_S grid to thumbnail size and
`KeyframeSampler` holds them until then. To bound memory on long shots it thins each
detector shot to at most KEPT_PER_SHOT thumbnails by keeping only grid points that are
multiples of 2^k, the smallest k that fits. That choice depends only on where the shot
starts and ends, not on how the stream was chunked, and the thumbnails already thinned
away are never needed again. A part of a shot split at `max_shot_s` takes the held frame
nearest its middle when none lies in its middle part; past about ten minutes (30-s
parts, thumbnails 0.3 s apart) a part may hold none, and the analyzer decodes a few
candidates for it instead.
"""

from __future__ import annotations

import bisect
import io
import itertools
import math
from dataclasses import dataclass

import numpy as np

from dataflux_pipeline.analyzers.video.decode import grid_point
from dataflux_pipeline.analyzers.visual import descriptor, dominant_colours, laplacian_variance

CANDIDATES = 5  # keyframe candidates per shot
MIDDLE = (0.3, 0.7)  # keyframe candidates come from this part of a shot
KEPT_PER_SHOT = 32
_EPS = 1e-6

Range = tuple[int, int]  # frames [start, stop)


def _end(times: np.ndarray, stop: int) -> float:
    return float(times[stop, 0] if stop < len(times) else times[-1, 1])


def merged_ranges(cuts: list[int], times: np.ndarray, min_shot_s: float) -> list[Range]:
    """Shots between cuts, each shorter than `min_shot_s` merged into its neighbour."""
    merged: list[Range] = []
    for a, b in itertools.pairwise([0, *cuts, len(times)]):
        if merged and _end(times, b) - float(times[a, 0]) < min_shot_s:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    first = merged[0]
    if len(merged) > 1 and _end(times, first[1]) - float(times[first[0], 0]) < min_shot_s:
        merged[:2] = [(first[0], merged[1][1])]
    return merged


def split_range(a: int, b: int, times: np.ndarray, max_shot_s: float) -> list[Range]:
    """[a, b) in equal parts of at most `max_shot_s`, cut on frame starts."""
    t0, t1 = float(times[a, 0]), _end(times, b)
    parts = max(1, math.ceil((t1 - t0) / max_shot_s - _EPS))
    targets = t0 + (t1 - t0) * np.arange(1, parts) / parts
    inner = np.searchsorted(times[a:b, 0], targets) + a
    return list(itertools.pairwise(sorted({a, *inner.tolist(), b})))


def shot_ranges(
    cuts: list[int], times: np.ndarray, min_shot_s: float, max_shot_s: float
) -> list[Range]:
    """Frame ranges [start, stop) of shots: cuts, short shots merged, long ones split."""
    merged = merged_ranges(cuts, times, min_shot_s)
    return [part for a, b in merged for part in split_range(a, b, times, max_shot_s)]


@dataclass(frozen=True)
class Pick:
    """A shot's keyframe, with what was measured on its candidates."""

    frame: int
    jpeg: bytes
    sharpness: float  # mean over the candidates
    colours: list[str]
    vector: np.ndarray


def describe(group: list[tuple[int, np.ndarray]]) -> Pick:
    """The sharpest of the candidate (frame, RGB) pairs, encoded and described.

    Colours come from every fourth pixel each way of all candidates (about 18,000 at 16:9):
    they are a histogram's means, and the full thumbnails cost 16 times as much for the
    same hexes.
    """
    from PIL import Image

    sharp = [laplacian_variance(rgb) for _, rgb in group]
    frame, rgb = group[int(np.argmax(sharp))]
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=85)
    return Pick(
        frame=frame,
        jpeg=buf.getvalue(),
        sharpness=float(np.mean(sharp)),
        colours=dominant_colours(np.stack([g[::4, ::4] for _, g in group])),
        vector=descriptor(rgb),
    )


def fallback_candidates(a: int, b: int, step: int, keys: np.ndarray) -> list[int]:
    """Frames to decode for a shot the scan kept no thumbnail for: a few in the middle
    part of [a, b), starting on an I-frame there when there is one (the one nearest the
    middle), since reaching a frame costs decoding from the I-frame before it."""
    lo, hi = a + MIDDLE[0] * (b - a), a + MIDDLE[1] * (b - a)
    near = keys[(keys >= lo) & (keys <= hi)]
    mid = (a + b) / 2
    first = int(near[np.argmin(np.abs(near - mid))]) if len(near) else math.ceil(lo)
    return sorted({min(b - 1, max(a, first + i * step)) for i in range(CANDIDATES)})


class KeyframeSampler:
    """Holds the decoder's thumbnails until their shots are final, then picks keyframes.

    `add()` takes thumbnails as they are decoded; `update()` takes the detector's decided
    cuts and the frame times known so far, thins the thumbnails, and describes the shots
    that can no longer change: all but the last two merged shots, since a short shot
    still to come would merge into the one before it. `finish()` does the rest.
    """

    def __init__(self, min_shot_s: float, max_shot_s: float) -> None:
        self.min_shot_s, self.max_shot_s = min_shot_s, max_shot_s
        self.frames: list[int] = []  # thumbnails held, in frame order
        self.held: dict[int, tuple[int, np.ndarray]] = {}  # frame -> (grid point, RGB)
        self.picks: dict[Range, Pick] = {}
        self._done = 0  # frames before this belong to shots already picked

    def add(self, thumbs: list[tuple[int, int, np.ndarray]]) -> None:
        for frame, grid, rgb in thumbs:
            self.frames.append(frame)
            self.held[frame] = (grid, rgb)

    def update(self, cuts: list[int], times: np.ndarray, decided: int) -> None:
        cuts = [c for c in cuts if c < decided]
        self._thin([0, *cuts, decided], times)
        merged = merged_ranges(cuts, times[:decided], self.min_shot_s) if decided else []
        self._pick(merged[:-2], times)

    def finish(self, cuts: list[int], times: np.ndarray) -> dict[Range, Pick]:
        self._thin([0, *cuts, len(times)], times)
        self._pick(merged_ranges(cuts, times, self.min_shot_s), times)
        return self.picks

    def _thin(self, bounds: list[int], times: np.ndarray) -> None:
        """Keep at most KEPT_PER_SHOT thumbnails in each detector shot (see module doc)."""
        if not self.frames:
            return
        first = bisect.bisect_right(bounds, self.frames[0]) - 1
        for a, b in itertools.pairwise(bounds[max(0, first) :]):
            lo, hi = grid_point(float(times[a, 0])), grid_point(_end(times, b))
            every = 1
            while math.ceil(hi / every) - math.ceil(lo / every) > KEPT_PER_SHOT:
                every *= 2
            if every > 1:
                i, j = bisect.bisect_left(self.frames, a), bisect.bisect_left(self.frames, b)
                keep = [f for f in self.frames[i:j] if self.held[f][0] % every == 0]
                for f in set(self.frames[i:j]) - set(keep):
                    del self.held[f]
                self.frames[i:j] = keep

    def _pick(self, final: list[Range], times: np.ndarray) -> None:
        for a, b in final:
            if b <= self._done:
                continue
            for pa, pb in split_range(a, b, times, self.max_shot_s):
                group = self._candidates(pa, pb)
                if group:
                    self.picks[(pa, pb)] = describe([(f, self.held[f][1]) for f in group])
            self._done = b
        drop = bisect.bisect_left(self.frames, self._done)
        for f in self.frames[:drop]:
            del self.held[f]
        del self.frames[:drop]

    def _candidates(self, a: int, b: int) -> list[int]:
        """Up to CANDIDATES held frames nearest the middle of [a, b), from its middle part
        when it has any, else the one nearest the middle anywhere in the shot."""
        held = self.frames[bisect.bisect_left(self.frames, a) : bisect.bisect_left(self.frames, b)]
        lo, hi, mid = a + MIDDLE[0] * (b - a), a + MIDDLE[1] * (b - a), (a + b - 1) / 2
        inner = [f for f in held if lo <= f <= hi]
        by_distance = sorted(inner or held, key=lambda f: (abs(f - mid), f))
        return sorted(by_distance[: CANDIDATES if inner else 1])
