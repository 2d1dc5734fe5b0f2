"""Video analyzer: cuts, fades and dissolves at known frames, keyframes, features, errors,
streaming borders."""

from __future__ import annotations

import itertools
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dataflux_pipeline.analyzers import visual
from dataflux_pipeline.analyzers.base import AnalysisError, MediaItem
from dataflux_pipeline.analyzers.video import analyzer as video
from dataflux_pipeline.analyzers.video import decode as video_decode
from dataflux_pipeline.analyzers.video.analyzer import VideoAnalyzer
from dataflux_pipeline.analyzers.video.shots import ShotDetector
from dataflux_pipeline.cli.samples import Shot, Transition, TrueBoundary, write_edit, write_video
from dataflux_pipeline.settings import Settings
from dataflux_pipeline.storage.schemas import FEATURES_VIDEO

FPS = 25
SHOTS = [
    Shot(40, (200, 40, 40)),
    Shot(33, (18, 18, 24)),  # dark
    Shot(61, (235, 235, 220), fade_out=10),  # bright, fades to black before the cut
    Shot(50, (40, 60, 200)),
]
BOUNDS = np.cumsum([0] + [s.frames for s in SHOTS])  # 0, 40, 73, 134, 184


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> tuple[Path, list[int]]:
    path = tmp_path_factory.mktemp("video") / "cuts.mp4"
    cuts = write_video(path, SHOTS, size=(320, 240), fps=FPS, audio_hz=None)
    return path, cuts


def make_item(path: Path, tmp_path: Path) -> MediaItem:
    return MediaItem(
        path=path, asset_id="ab" + "0" * 30, mime_type="video/mp4", store_root=tmp_path
    )


def analyzer(tmp_path: Path, **overrides) -> VideoAnalyzer:
    return VideoAnalyzer(Settings(home=tmp_path / "home", **overrides))


def test_hard_cuts_found_within_one_frame(clip, tmp_path):
    path, cuts = clip
    assert cuts == BOUNDS[1:-1].tolist()
    found = analyzer(tmp_path).scan(path).cuts
    assert len(found) == len(cuts), found
    assert all(abs(f - c) <= 1 for f, c in zip(found, cuts, strict=True)), found


def test_shot_segments_match_frame_times(clip, tmp_path):
    path, _ = clip
    shots = analyzer(tmp_path).segment(make_item(path, tmp_path))
    assert [s.kind for s in shots] == ["shot"] * len(SHOTS)
    assert [s.index for s in shots] == list(range(len(SHOTS)))
    for shot, a, b in zip(shots, BOUNDS[:-1], BOUNDS[1:], strict=True):
        assert shot.start_s == pytest.approx(a / FPS, abs=1.01 / FPS)
        assert shot.end_s == pytest.approx(b / FPS, abs=1.01 / FPS)
    assert shots[0].start_s == 0.0
    assert shots[-1].end_s == pytest.approx(BOUNDS[-1] / FPS, abs=1e-3)
    assert all(x.end_s == y.start_s for x, y in itertools.pairwise(shots))


def test_analyze_writes_keyframes_features_and_metadata(clip, tmp_path):
    path, _ = clip
    an = analyzer(tmp_path, thumbnail_width=160)
    item = make_item(path, tmp_path)
    result = an.run(item)
    shots = [s for s in result.segments if s.kind == "shot"]
    keys = [s for s in result.segments if s.kind == "keyframe"]
    assert len(shots) == len(keys) == len(SHOTS)
    for shot, key in zip(shots, keys, strict=True):
        assert key.index == shot.index and key.parent_id == shot.segment_id
        assert shot.start_s <= key.start_s == key.end_s < shot.end_s
        assert key.thumbnail == f"thumbnails/ab/{item.asset_id}/shot_{shot.index:04d}.jpg"
        with Image.open(tmp_path / key.thumbnail) as img:
            assert img.format == "JPEG" and img.width == 160 and img.height == 120

    rows = result.features["features_video"]
    assert len(rows) == len(shots)
    assert all(set(r) == set(FEATURES_VIDEO.names) for r in rows)
    assert [r["segment_id"] for r in rows] == [s.segment_id for s in shots]
    assert rows[0]["analyzer"] == "video" and rows[0]["analyzer_version"] == VideoAnalyzer.version
    assert rows[2]["brightness"] > 0.6 > 0.15 > rows[1]["brightness"]
    assert rows[0]["colourfulness"] > 40 > rows[1]["colourfulness"]
    for row, spec in zip(rows, SHOTS, strict=True):
        assert row["duration_s"] == pytest.approx(spec.frames / FPS, abs=1.01 / FPS)
        assert 0 < row["motion"] < 0.1 and row["sharpness"] > 0 and row["contrast"] > 0
        assert 1 <= len(row["dominant_colours"]) <= 3
        assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in row["dominant_colours"])
    red = int(rows[0]["dominant_colours"][0][1:3], 16)
    assert red > 150  # the red shot's main colour is red

    assert result.duration_s == pytest.approx(BOUNDS[-1] / FPS, abs=1e-3)
    assert (result.width, result.height) == (320, 240)
    meta = result.metadata
    assert meta["codec"] == "h264" and meta["fps"] == pytest.approx(FPS)
    assert (meta["width"], meta["height"], meta["rotation"]) == (320, 240, 0)
    assert meta["duration_s"] == pytest.approx(BOUNDS[-1] / FPS, abs=1e-3)
    assert meta["bit_rate"] > 0


def test_short_shots_are_merged(clip, tmp_path):
    path, _ = clip
    shots = analyzer(tmp_path, min_shot_s=1.5).segment(make_item(path, tmp_path))
    starts = [round(s.start_s * FPS) for s in shots]
    assert starts == [0, 40, 134]  # the 33-frame shot (1.32 s) joined a neighbour
    assert all(s.end_s - s.start_s >= 1.5 for s in shots)


def test_long_shot_is_split_into_equal_parts(tmp_path):
    path = tmp_path / "long.mp4"
    write_video(path, [Shot(125, (90, 140, 60))], fps=FPS, size=(160, 120), audio_hz=None)
    shots = analyzer(tmp_path, max_shot_s=2.0).segment(make_item(path, tmp_path))
    assert len(shots) == 3
    assert shots[0].start_s == 0 and shots[-1].end_s == pytest.approx(5.0)
    lengths = [s.end_s - s.start_s for s in shots]
    assert all(abs(x - 5.0 / 3) <= 1.01 / FPS for x in lengths), lengths


def test_chunk_borders_do_not_change_results(clip, tmp_path):
    path, _ = clip
    small = analyzer(tmp_path, video_chunk_frames=16).scan(path)
    big = analyzer(tmp_path, video_chunk_frames=256).scan(path)
    assert small.cuts == big.cuts
    for name in ("brightness", "contrast", "colourfulness", "motion"):
        np.testing.assert_allclose(getattr(small, name), getattr(big, name), rtol=1e-5, atol=1e-6)


def test_broken_files_raise_analysis_error(clip, tmp_path):
    path, _ = clip
    an = analyzer(tmp_path)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all\n" * 50)
    for bad in (truncated, empty, text, tmp_path / "missing.mp4"):
        with pytest.raises(AnalysisError) as err:
            an.run(make_item(bad, tmp_path))
        assert str(err.value)


def _write(path: Path, frames: list[np.ndarray], pts_ms: list[int], rotation: int = 0) -> Path:
    """H.264 with explicit presentation times in milliseconds and a display rotation."""
    import av

    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        if rotation:
            stream.set_display_rotation(rotation)
        for img, pts in zip(frames, pts_ms, strict=True):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def _noisy(colour, n: int, seed: int, size=(120, 160)) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    noise = rng.integers(-15, 16, (n, *size, 3))
    return list(np.clip(np.array(colour) + noise, 0, 255).astype(np.uint8))


def test_variable_frame_rate_uses_presentation_times(tmp_path):
    frames = _noisy((200, 50, 50), 30, 1) + _noisy((40, 60, 210), 30, 2)
    pts_ms = [i * 50 for i in range(30)] + [1500 + i * 100 for i in range(30)]
    path = _write(tmp_path / "vfr.mp4", frames, pts_ms)
    shots = analyzer(tmp_path).segment(make_item(path, tmp_path))
    assert len(shots) == 2
    assert shots[1].start_s == pytest.approx(1.5, abs=1e-3)  # frame 30; 30 / 25 fps would be 1.2
    assert shots[1].end_s == pytest.approx(4.4, abs=0.11)


def test_rotated_video_reports_display_size(tmp_path):
    path = _write(
        tmp_path / "phone.mp4", _noisy((90, 120, 200), 12, 3), [i * 40 for i in range(12)], 90
    )
    result = analyzer(tmp_path, thumbnail_width=120).run(make_item(path, tmp_path))
    assert result.metadata["rotation"] == 90
    assert (result.metadata["width"], result.metadata["height"]) == (160, 120)
    assert (result.width, result.height) == (120, 160)
    key = next(s for s in result.segments if s.kind == "keyframe")
    with Image.open(tmp_path / key.thumbnail) as img:
        assert img.size == (120, 160)


def _pan(colour, n, speed, seed, h=72, w=128):
    rng = np.random.default_rng(seed)
    cells = rng.random((h // 8 + 2, (w + speed * n) // 8 + 2, 3))
    tex = np.kron(cells, np.ones((8, 8, 1)))
    tex = np.clip(np.array(colour) + (tex - 0.5) * 120, 0, 255)
    return np.stack([tex[:h, i * speed : i * speed + w] for i in range(n)])


def _detect(frames: np.ndarray, chunk: int) -> list[int]:
    det = ShotDetector(min_shot_frames=10)
    found = []
    for start in range(0, len(frames), chunk):
        found += det.feed(frames[start : start + chunk].astype(np.uint8))
    found += det.finish()
    assert found == det.cuts
    return found


def test_detector_ignores_motion_and_counts_a_fade_once():
    a = _pan((120, 100, 80), 60, 2, 1)
    b = _pan((40, 160, 60), 60, 2, 2)
    ramp = np.linspace(1, 0, 16)[:, None, None, None]
    black = np.zeros((10, *a.shape[1:]))
    faded = np.concatenate([a[:44], a[44:] * ramp, black, b[:16] * ramp[::-1], b[16:]])
    moving = np.concatenate([a, _pan((120, 100, 80), 50, 2, 3)])
    for chunk in (7, 64):
        assert _detect(moving, chunk) == [60]  # same colours, different content
        assert _detect(a, chunk) == []  # a steady pan is not a cut
        assert _detect(faded, chunk) == [73]  # first visible frame after the black
        assert _detect(np.concatenate([a[:44], a[44:] * ramp, b]), chunk) == [60]


def test_detector_finds_a_dissolve_between_pans_once():
    a = _pan((120, 100, 80), 80, 2, 1)
    b = _pan((60, 150, 170), 80, 1, 2)
    w = np.linspace(0, 1, 22)[1:-1, None, None, None]  # 20 mixed frames
    mixed = np.concatenate([a[:60], a[60:] * (1 - w) + b[:20] * w, b[20:]])
    for chunk in (7, 64, 500):
        (found,) = _detect(mixed, chunk)
        assert 60 <= found < 80, found


EDIT_SHOTS = [70, 60, 70, 60, 80, 70, 90, 60]
EDIT = [
    Transition("fade_out", 12),  # fade to black, then the next shot cuts in
    Transition("fade_in", 14, 4),  # cut to black, fade in from black
    Transition("dissolve", 8),
    Transition("fade", 10, 3),  # out, black, in
    Transition("dissolve", 20),
    Transition("cut"),
    Transition("dissolve", 36),
]


@pytest.fixture(scope="module")
def edit(tmp_path_factory) -> tuple[Path, list[TrueBoundary]]:
    path = tmp_path_factory.mktemp("edit") / "edit.mp4"
    return path, write_edit(path, EDIT_SHOTS, EDIT, size=(160, 90), seed=5)


def test_fades_and_dissolves_are_found_once_within_their_length(edit, tmp_path):
    path, truth = edit
    scan = analyzer(tmp_path).scan(path)
    assert len(scan.boundaries) == len(truth), scan.boundaries
    for found, true in zip(scan.boundaries, truth, strict=True):
        assert true.start - 1 <= found.frame <= true.end + 1, (found, true)
        expected = {"cut": "cut", "dissolve": "dissolve"}.get(true.kind, "fade")
        assert found.kind == expected, (found, true)
    shots = analyzer(tmp_path).segment(make_item(path, tmp_path))
    assert len(shots) == len(EDIT_SHOTS)


def test_chunk_sizes_and_decoder_threads_do_not_change_results(edit, tmp_path, monkeypatch):
    path, _ = edit
    scans = [analyzer(tmp_path, video_chunk_frames=n).scan(path) for n in (8, 37, 1024)]
    monkeypatch.setattr(video_decode, "SEGMENT", 1)  # a segment per keyframe
    scans.append(analyzer(tmp_path, video_chunk_frames=16).scan(path))
    monkeypatch.setattr(video_decode, "WORKERS", 3)
    scans.append(analyzer(tmp_path, video_chunk_frames=16).scan(path))
    monkeypatch.setattr(video_decode, "WORKERS", 1)  # one decoder, one segment
    scans.append(analyzer(tmp_path, video_chunk_frames=16).scan(path))
    assert len(scans[0].keys) > 3
    for other in scans[1:]:
        assert other.boundaries == scans[0].boundaries
        np.testing.assert_array_equal(other.times, scans[0].times)
        np.testing.assert_array_equal(other.keys, scans[0].keys)
        for name in ("brightness", "motion"):
            np.testing.assert_allclose(getattr(other, name), getattr(scans[0], name), atol=1e-6)
        assert other.picks.keys() == scans[0].picks.keys()
        for r, pick in other.picks.items():
            assert (pick.frame, pick.colours) == (
                scans[0].picks[r].frame,
                scans[0].picks[r].colours,
            )
            np.testing.assert_array_equal(pick.vector, scans[0].picks[r].vector)


def test_keyframes_carry_visual_vectors(edit, tmp_path):
    path, _ = edit
    result = analyzer(tmp_path).run(make_item(path, tmp_path))
    keys = [s for s in result.segments if s.kind == "keyframe"]
    assert [v.segment_id for v in result.vectors] == [k.segment_id for k in keys]
    assert {(v.space, v.model, v.model_version) for v in result.vectors} == {
        ("visual", "dataflux-visual", visual.VERSION)
    }
    assert all(len(v.vector) == visual.DIM for v in result.vectors)
    assert result.metadata["transitions"] == {"cut": 1, "fade": 3, "dissolve": 3}


def test_keyframes_come_from_the_one_decode(edit, tmp_path, monkeypatch):
    path, _ = edit
    decoded_again = []
    frames_at = video.frames_at
    monkeypatch.setattr(video, "frames_at", lambda *a: decoded_again.append(a) or frames_at(*a))
    results = []
    for name in ("run", "separate"):
        an, item = analyzer(tmp_path / name), make_item(path, tmp_path / name)
        results.append(an.run(item) if name == "run" else an.analyze(item, an.segment(item)))
        assert len(list((tmp_path / name).rglob("*.jpg"))) == len(EDIT_SHOTS)
    a, b = results
    assert [s.model_dump() for s in a.segments] == [s.model_dump() for s in b.segments]
    assert a.vectors == b.vectors and a.features == b.features
    assert not decoded_again

    # shots stored by another analysis (split at 1 s) have no keyframe in the scan
    item = make_item(path, tmp_path / "stored")
    shots = analyzer(tmp_path, max_shot_s=1.0).segment(item)
    result = analyzer(tmp_path).analyze(item, shots)
    assert decoded_again
    keys = [s for s in result.segments if s.kind == "keyframe"]
    assert len(keys) == len(shots) == len(result.vectors) > len(EDIT_SHOTS)
    for shot, key in zip(shots, keys, strict=True):
        assert shot.start_s <= key.start_s < shot.end_s
        assert (tmp_path / "stored" / key.thumbnail).is_file()
