"""Harder material: camera flashes, whip pans, handheld shakes and fast objects inside
shots are not boundaries, while cuts, fades and dissolves from 4 to 24 frames still are."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dataflux_pipeline.analyzers.video.analyzer import VideoAnalyzer
from dataflux_pipeline.analyzers.video.shots import ShotDetector
from dataflux_pipeline.cli.samples.edits import Distractor, Transition, TrueBoundary, write_edit
from dataflux_pipeline.settings import Settings


def _pan(colour, n: int, speed: int, seed: int, h: int = 72, w: int = 128) -> np.ndarray:
    rng = np.random.default_rng(seed)
    cells = rng.random((h // 8 + 2, (w + speed * n) // 8 + 2, 3))
    tex = np.clip(np.array(colour) + (np.kron(cells, np.ones((8, 8, 1))) - 0.5) * 120, 0, 255)
    return np.stack([tex[:h, i * speed : i * speed + w] for i in range(n)])


def _flash(frames: np.ndarray, at: int, strengths: list[float]) -> np.ndarray:
    out = frames.copy()
    for k, s in enumerate(strengths):
        out[at + k] += (255 - out[at + k]) * s
    return out


def _cuts(frames: np.ndarray) -> list[int]:
    det = ShotDetector(min_shot_frames=10)
    found = det.feed(np.clip(frames, 0, 255).astype(np.uint8)) + det.finish()
    return found


def test_flashes_are_not_cuts_but_a_cut_right_after_one_is():
    a = _pan((120, 100, 80), 90, 2, 1)
    b = _pan((40, 160, 60), 60, 3, 2)
    assert _cuts(_flash(a, 30, [0.9])) == []  # one blown-out frame
    assert _cuts(_flash(a, 30, [0.8, 0.5, 0.25])) == []  # a flash that decays
    flashed = np.concatenate([_flash(a[:62], 58, [0.9]), b])
    assert _cuts(flashed) == [62]  # the cut two frames after the flash still counts


SHOTS = [80, 90, 100, 90, 110, 90, 80]
EDIT = [
    Transition("cut"),
    Transition("dissolve", 4),
    Transition("fade", 16, 3),
    Transition("dissolve", 24),  # 40 frames between these fast pans: missed (see the bench)
    Transition("fade_out", 6),
    Transition("cut"),
]
EVENTS = [
    [Distractor("flash", 20, 1, 0.9), Distractor("whip", 45, 12, 1.5)],
    [Distractor("shake", 20, 14), Distractor("flash", 60, 3, 0.7)],
    [Distractor("object", 15, 10), Distractor("flash", 50, 2, 0.8)],
    [Distractor("whip", 25, 10, 1.0)],
    [Distractor("flash", 50, 1, 0.6), Distractor("shake", 70, 12)],
    [Distractor("object", 20, 8), Distractor("flash", 55, 2, 0.9)],
    [Distractor("whip", 20, 14, 2.0)],
]


@pytest.fixture(scope="module")
def hard(tmp_path_factory) -> tuple[Path, list[TrueBoundary]]:
    path = tmp_path_factory.mktemp("hard") / "hard.mp4"
    return path, write_edit(path, SHOTS, EDIT, (192, 108), seed=9, distractors=EVENTS)


def test_distractors_make_no_boundaries_and_transitions_are_found_once(hard, tmp_path):
    path, truth = hard
    scan = VideoAnalyzer(Settings(home=tmp_path / "home")).scan(path)
    assert len(scan.boundaries) == len(truth), (scan.boundaries, truth)
    for found, true in zip(scan.boundaries, truth, strict=True):
        assert true.start - 1 <= found.frame <= true.end + 1, (found, true)
