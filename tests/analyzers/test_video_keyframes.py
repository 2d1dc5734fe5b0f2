"""Keyframes from the scan's own thumbnails: memory stays bounded on a long shot, every
part of a split shot gets one, and how the stream was chunked changes nothing."""

from __future__ import annotations

import numpy as np

from dataflux_pipeline.analyzers.video.decode import SAMPLE_S, grid_point
from dataflux_pipeline.analyzers.video.keyframes import (
    KEPT_PER_SHOT,
    KeyframeSampler,
    shot_ranges,
    split_range,
)

FPS = 25
LAG = 74  # frames the detector decides behind the decoder (its longest dissolve window)


def _times(n: int) -> np.ndarray:
    start = np.arange(n) / FPS
    return np.stack([start, start + 1 / FPS], axis=1)


def _thumbs(frames: range, times: np.ndarray) -> list[tuple[int, int, np.ndarray]]:
    """What the decoder hands over: the frame on screen at each grid point, with a
    picture that differs from frame to frame."""
    out = []
    for f in frames:
        t = float(times[f, 0])
        if grid_point(t) * SAMPLE_S < t + 1 / FPS - 1e-9:
            rgb = np.full((6, 8, 3), f % 251, np.uint8)
            rgb[::2, ::2] = 255 - rgb[::2, ::2]
            out.append((f, grid_point(t), rgb))
    return out


def _sample(cuts: list[int], n: int, chunk: int, max_shot_s: float = 30.0):
    times = _times(n)
    sampler = KeyframeSampler(min_shot_s=0.4, max_shot_s=max_shot_s)
    peak = 0
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        sampler.add(_thumbs(range(start, stop), times))
        decided = max(1, stop - LAG)
        sampler.update([c for c in cuts if c < decided], times[:stop], decided)
        peak = max(peak, len(sampler.held))
    return sampler.finish(cuts, times), peak, times


def test_a_ten_minute_shot_holds_few_thumbnails_and_every_part_gets_a_keyframe():
    n = 10 * 60 * FPS
    picks, peak, times = _sample([], n, 256)
    window = (256 + LAG) / (SAMPLE_S * FPS) + 1  # grid points not yet decided
    assert peak <= KEPT_PER_SHOT + window
    parts = split_range(0, n, times, 30.0)
    assert len(parts) == 20 and set(picks) == set(parts)
    for a, b in parts:
        assert a <= picks[(a, b)].frame < b


def test_keyframes_sit_in_the_middle_of_their_shots_whatever_the_chunking():
    cuts = [90, 200, 260, 700, 1900]
    picks, _, times = _sample(cuts, 2500, 256)
    assert sorted(picks) == shot_ranges(cuts, times, 0.4, 30.0)  # 700-1900 in two parts
    for (a, b), pick in picks.items():
        assert a + 0.3 * (b - a) <= pick.frame <= a + 0.7 * (b - a)
    for chunk in (8, 37, 1000):
        other, _, _ = _sample(cuts, 2500, chunk)
        assert {r: p.frame for r, p in other.items()} == {r: p.frame for r, p in picks.items()}
        assert all(other[r].jpeg == p.jpeg for r, p in picks.items())
