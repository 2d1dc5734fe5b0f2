"""Visual descriptor: fixed length and unit norm; copies score far above other pictures;
images and keyframes carry it as a `visual` vector, and one shot in two videos matches."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from dataflux_pipeline.analyzers import visual
from dataflux_pipeline.analyzers.base import MediaItem
from dataflux_pipeline.analyzers.image import ImageAnalyzer
from dataflux_pipeline.analyzers.video.analyzer import VideoAnalyzer
from dataflux_pipeline.analyzers.visual import cosine, descriptor
from dataflux_pipeline.cli.samples import (
    NEAR_DUPLICATE_EDITS,
    Transition,
    near_duplicate,
    scene_image,
    write_edit,
)
from dataflux_pipeline.settings import Settings


def test_descriptor_is_fixed_length_unit_and_deterministic():
    rgb = np.asarray(scene_image(1))
    vec = descriptor(rgb)
    assert vec.shape == (visual.DIM,) and vec.dtype == np.float32
    assert np.linalg.norm(vec) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_array_equal(vec, descriptor(rgb.copy()))
    for odd in (np.full((30, 50, 3), 128, np.uint8), np.zeros((1, 1, 3), np.uint8)):
        flat = descriptor(odd)  # no edges at all: still a finite unit vector
        assert np.isfinite(flat).all() and np.linalg.norm(flat) == pytest.approx(1.0, abs=1e-5)


def test_near_duplicates_score_far_above_unrelated_pictures():
    # pairs of look-alikes: seeds 2k and 2k+1 share a palette but not their shapes
    originals = [scene_image(s, palette=s // 2) for s in range(300, 312)]
    vecs = np.stack([descriptor(np.asarray(img)) for img in originals])
    copies = []
    for n, img in enumerate(originals):
        for edit in NEAR_DUPLICATE_EDITS:
            copy = descriptor(np.asarray(near_duplicate(img, edit)))
            copies.append(cosine(copy, vecs[n]))
            assert int(np.argmax(vecs @ copy)) == n, edit  # the copy finds its original
    unrelated = [cosine(vecs[i], vecs[j]) for i, j in itertools.combinations(range(12), 2)]
    assert min(copies) > 0.95
    assert max(unrelated) < min(copies) - 0.05
    assert np.mean(unrelated) < 0.6


def test_image_analyzer_emits_one_visual_vector(settings, tmp_path):
    path = tmp_path / "scene.jpg"
    scene_image(7).save(path, quality=90)
    item = MediaItem(path, "c" * 64, "image/jpeg", tmp_path / "store")
    result = ImageAnalyzer(settings).run(item)
    (vec,) = result.vectors
    assert vec.segment_id == result.segments[0].segment_id and vec.asset_id == item.asset_id
    assert (vec.space, vec.model, vec.model_version) == ("visual", "dataflux-visual", "1.0.0")
    assert len(vec.vector) == visual.DIM


def test_keyframes_of_one_shot_match_across_two_videos(tmp_path):
    cut = Transition("cut")
    first = tmp_path / "first.mp4"
    second = tmp_path / "second.mp4"
    write_edit(
        first, [50, 60, 55], [cut, Transition("dissolve", 8)], (160, 90), scene_seeds=[11, 12, 13]
    )
    write_edit(
        second,
        [45, 55, 60, 50],  # the shared scenes keep their lengths
        [cut, Transition("fade", 6, 2), cut],
        (192, 108),  # another size and encoding of the same scenes
        scene_seeds=[14, 13, 15, 11],
    )
    analyzer = VideoAnalyzer(Settings(home=tmp_path / "home"))

    def keyframe_vectors(path: Path) -> np.ndarray:
        item = MediaItem(path, path.stem * 8, "video/mp4", tmp_path / "store")
        return np.array([v.vector for v in analyzer.run(item).vectors])

    a, b = keyframe_vectors(first), keyframe_vectors(second)
    assert len(a) == 3 and len(b) == 4
    sims = a @ b.T
    assert int(np.argmax(sims[0])) == 3 and sims[0, 3] > 0.9  # scene 11
    assert int(np.argmax(sims[2])) == 1 and sims[2, 1] > 0.9  # scene 13
    assert sims[1].max() < 0.9  # scene 12 is only in the first video
