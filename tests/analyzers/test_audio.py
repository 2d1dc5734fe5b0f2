"""Audio analyzer: decoding, segmentation, feature rows, and tempo/key against ground truth."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from dataflux_pipeline.analyzers.audio import analyzer as audio_module
from dataflux_pipeline.analyzers.audio import decode as audio_decode
from dataflux_pipeline.analyzers.audio import frames as audio_frames
from dataflux_pipeline.analyzers.audio.analyzer import AudioAnalyzer
from dataflux_pipeline.analyzers.audio.decode import has_audio
from dataflux_pipeline.analyzers.audio.tempo import estimate_key, estimate_tempo
from dataflux_pipeline.analyzers.base import AnalysisError, MediaItem
from dataflux_pipeline.cli.samples import Shot, click_track, tone, write_video, write_wav
from dataflux_pipeline.settings import Settings
from dataflux_pipeline.storage.schemas import FEATURES_AUDIO

SR = 22050
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
TRUMPET = FIXTURES / "audio" / "sorohanro_-_solo-trumpet-06.ogg"


def item_for(path: Path, tmp_path: Path, mime: str = "audio/wav") -> MediaItem:
    return MediaItem(path=path, asset_id="a1b2c3", mime_type=mime, store_root=tmp_path / "store")


def run(path: Path, tmp_path: Path, mime: str = "audio/wav"):
    analyzer = AudioAnalyzer(Settings(audio_sample_rate=SR, audio_window_s=10.0))
    return analyzer.run(item_for(path, tmp_path, mime))


def rows_by_segment(result) -> dict[str, dict]:
    return {row["segment_id"]: row for row in result.features["features_audio"]}


def chords(progression: list[tuple[int, ...]], seconds_each: float = 1.5) -> np.ndarray:
    """Decaying sine triads (MIDI note numbers), a few with octave doublings."""
    t = np.arange(int(seconds_each * SR)) / SR
    parts = []
    for notes in progression:
        y = sum(np.sin(2 * np.pi * 440 * 2 ** ((n - 69) / 12) * t) for n in notes)
        parts.append(0.2 * y * np.exp(-1.5 * t))
    return np.concatenate(parts * 3).astype(np.float32)


@pytest.mark.parametrize("bpm", [60, 90, 100, 120, 128, 140, 174])
def test_click_track_tempo(bpm):
    assert estimate_tempo(click_track(bpm, 12.0), SR) == pytest.approx(bpm, rel=0.02)


def test_trumpet_loop_is_90_bpm_in_f(tmp_path):
    if not TRUMPET.exists():
        pytest.skip(f"fixture missing: {TRUMPET}")
    result = run(TRUMPET, tmp_path, "audio/ogg")
    track = rows_by_segment(result)["a1b2c3:track:0"]
    assert track["tempo_bpm"] == pytest.approx(90, rel=0.02)
    assert track["key"] == "F"
    assert result.metadata == {"sample_rate": 22050, "channels": 1, "codec": "vorbis"}


def test_tone_centroid_and_loudness(tmp_path):
    path = write_wav(tmp_path / "a440.wav", tone(440.0, 6.0, amplitude=0.5))
    row = rows_by_segment(run(path, tmp_path))["a1b2c3:track:0"]
    assert row["spectral_centroid_hz"] == pytest.approx(440, rel=0.05)
    assert row["loudness_db"] == pytest.approx(20 * math.log10(0.5 / math.sqrt(2)), abs=0.1)
    assert row["peak_db"] == pytest.approx(20 * math.log10(0.5), abs=0.1)
    assert row["zero_crossing_rate"] == pytest.approx(2 * 440 / SR, rel=0.02)
    assert row["tempo_bpm"] is None
    assert len(row["mfcc_mean"]) == 13


def test_stereo_is_averaged_not_summed(tmp_path):
    y = tone(440.0, 3.0, amplitude=0.5)
    path = write_wav(tmp_path / "stereo.wav", np.stack([y, y], axis=1))
    result = run(path, tmp_path)
    row = rows_by_segment(result)["a1b2c3:track:0"]
    assert result.metadata["channels"] == 2
    assert row["loudness_db"] == pytest.approx(20 * math.log10(0.5 / math.sqrt(2)), abs=0.1)
    assert row["peak_db"] == pytest.approx(20 * math.log10(0.5), abs=0.1)


def test_windows_rows_and_schema(tmp_path):
    path = write_wav(tmp_path / "metronome.wav", click_track(120, 25.0))
    result = run(path, tmp_path)
    track, *windows = result.segments
    assert (track.kind, track.index, track.start_s, track.end_s) == ("track", 0, 0.0, 25.0)
    assert [(w.start_s, w.end_s) for w in windows] == [(0.0, 10.0), (10.0, 20.0), (20.0, 25.0)]
    assert all(w.kind == "window" and w.parent_id == track.segment_id for w in windows)
    assert [w.index for w in windows] == [0, 1, 2]
    assert result.duration_s == pytest.approx(25.0)
    rows = result.features["features_audio"]
    assert len(rows) == 4
    assert all(set(row) == set(FEATURES_AUDIO.names) for row in rows)
    pa.Table.from_pylist(rows, schema=FEATURES_AUDIO)
    by_id = rows_by_segment(result)
    assert [by_id[w.segment_id]["duration_s"] for w in windows] == pytest.approx([10, 10, 5])
    for row in rows:
        assert row["tempo_bpm"] == pytest.approx(120, rel=0.02)
        assert (row["analyzer"], row["analyzer_version"]) == ("audio", AudioAnalyzer.version)


def test_decodes_each_file_once(tmp_path, monkeypatch):
    path = write_wav(tmp_path / "tone.wav", tone(220.0, 2.0))
    calls = []
    real = audio_module.AudioStream
    monkeypatch.setattr(audio_module, "AudioStream", lambda *a: calls.append(a) or real(*a))
    run(path, tmp_path)
    assert len(calls) == 1


def test_audio_track_of_mp4(tmp_path):
    video = tmp_path / "clip.mp4"
    write_video(video, [Shot(50, (200, 40, 40)), Shot(50, (40, 40, 200))], size=(64, 48))
    assert has_audio(video)
    result = run(video, tmp_path, "video/mp4")
    row = rows_by_segment(result)["a1b2c3:track:0"]
    assert result.duration_s == pytest.approx(4.0, abs=0.1)
    assert result.metadata["codec"] == "aac"
    assert row["spectral_centroid_hz"] == pytest.approx(440, rel=0.05)
    assert row["loudness_db"] == pytest.approx(20 * math.log10(0.3 / math.sqrt(2)), abs=0.5)


def test_video_without_audio(tmp_path):
    video = tmp_path / "silent.mp4"
    write_video(video, [Shot(10, (0, 0, 0))], size=(32, 32), audio_hz=None)
    assert not has_audio(video)
    with pytest.raises(AnalysisError, match="no audio stream"):
        run(video, tmp_path, "video/mp4")


@pytest.mark.parametrize("content", [b"", b"RIFF not really a wave file" * 40])
def test_unreadable_files_raise(tmp_path, content):
    path = tmp_path / "broken.wav"
    path.write_bytes(content)
    assert not has_audio(path)
    with pytest.raises(AnalysisError, match="could not decode audio"):
        run(path, tmp_path)


def test_silence_has_no_tempo_or_key(tmp_path):
    path = write_wav(tmp_path / "silence.wav", np.zeros(5 * SR, np.float32))
    row = rows_by_segment(run(path, tmp_path))["a1b2c3:track:0"]
    assert (row["tempo_bpm"], row["key"], row["mode"]) == (None, None, None)
    assert row["loudness_db"] == audio_module.FLOOR_DB


def test_key_of_chord_progressions():
    c_major = [(60, 64, 67), (65, 69, 72), (67, 71, 74), (60, 64, 67, 72)]
    a_minor = [(57, 60, 64), (62, 65, 69), (64, 68, 71), (57, 60, 64, 69)]
    assert estimate_key(chords(c_major), SR) == ("C", "major")
    assert estimate_key(chords(a_minor), SR) == ("A", "minor")


AUDIO = FIXTURES / "audio"
SPEECH = AUDIO / "5703-47212-0000.ogg"
VIBE = AUDIO / "Kevin_MacLeod_-_Vibe_Ace.ogg"
WHALE = AUDIO / "glacier-bay-humpback.ogg"


@pytest.fixture(scope="module")
def fixture_runs(tmp_path_factory):
    """Each audio fixture analysed once, plus 12 s of generated silence."""
    if not AUDIO.is_dir():
        pytest.skip(f"fixtures missing: {AUDIO}")
    tmp = tmp_path_factory.mktemp("fixtures")
    silence = write_wav(tmp / "silence.wav", np.zeros(12 * SR, np.float32))
    paths = {"speech": SPEECH, "vibe": VIBE, "trumpet": TRUMPET, "whale": WHALE}
    runs = {name: run(path, tmp, "audio/ogg") for name, path in paths.items()}
    return runs | {"silence": run(silence, tmp)}


def classes(result) -> tuple[str, list[str]]:
    rows = rows_by_segment(result)
    windows = [s for s in result.segments if s.kind == "window"]
    return rows["a1b2c3:track:0"]["audio_class"], [
        rows[w.segment_id]["audio_class"] for w in windows
    ]


def test_speech_music_silence_on_fixtures(fixture_runs):
    assert classes(fixture_runs["speech"]) == ("speech", ["speech", "speech"])
    # Vibe Ace ends in a 1.5 s fade-out at -56 dBFS
    assert classes(fixture_runs["vibe"]) == ("music", ["music"] * 6 + ["silence"])
    assert classes(fixture_runs["trumpet"]) == ("music", ["music"])
    assert classes(fixture_runs["silence"]) == ("silence", ["silence", "silence"])
    rows = rows_by_segment(fixture_runs["silence"])
    assert rows["a1b2c3:track:0"]["speech_score"] is None
    assert rows["a1b2c3:track:0"]["lufs"] is None  # every block is under the -70 LUFS gate
    speech_scores = [r["speech_score"] for r in fixture_runs["speech"].features["features_audio"]]
    music_scores = [r["speech_score"] for r in fixture_runs["vibe"].features["features_audio"]]
    assert min(speech_scores) > 0.6 and max(s for s in music_scores if s is not None) < 0.4
    # Humpback song is neither; with the hydrophone hum and slow moans it reads as music.
    assert classes(fixture_runs["whale"])[0] == "music"


def test_descriptor_vectors(fixture_runs):
    vibe, speech = fixture_runs["vibe"], fixture_runs["speech"]
    assert [v.segment_id for v in vibe.vectors] == [f"a1b2c3:window:{i}" for i in range(6)]
    for v in vibe.vectors + speech.vectors:
        assert (v.space, v.model, v.asset_id) == ("audio", "dataflux-audio", "a1b2c3")
        assert len(v.vector) == len(vibe.vectors[0].vector) == audio_module.DESCRIPTOR_DIM
        assert np.linalg.norm(v.vector) == pytest.approx(1.0, abs=1e-5)
    music = np.array([v.vector for v in vibe.vectors])
    talk = np.array([v.vector for v in speech.vectors])
    same = music @ music.T
    assert same[~np.eye(len(music), dtype=bool)].min() > (music @ talk.T).max()
    assert not fixture_runs["silence"].vectors  # silent windows have no timbre to compare


def test_lufs_matches_pyloudnorm(tmp_path, fixture_runs):
    import pyloudnorm

    with audio_decode.AudioStream(SPEECH, SR) as stream:
        y = np.concatenate([audio_decode.mono(p) for p in stream.blocks()]).astype(np.float64)
    rows = rows_by_segment(fixture_runs["speech"])
    meter = pyloudnorm.Meter(SR)
    assert rows["a1b2c3:track:0"]["lufs"] == pytest.approx(meter.integrated_loudness(y), abs=0.01)
    window = meter.integrated_loudness(y[: 10 * SR])
    assert rows["a1b2c3:window:0"]["lufs"] == pytest.approx(window, abs=0.01)
    # stereo is measured per channel (BS.1770), not on the mono mix: +3 dB for L = R
    y = tone(997.0, 3.0, amplitude=0.5)
    stereo = rows_by_segment(run(write_wav(tmp_path / "s.wav", np.stack([y, y], 1)), tmp_path))
    mono = rows_by_segment(run(write_wav(tmp_path / "m.wav", y), tmp_path))
    expected = meter.integrated_loudness(np.stack([y, y], 1).astype(np.float64))
    assert stereo["a1b2c3:track:0"]["lufs"] == pytest.approx(expected, abs=0.01)
    assert stereo["a1b2c3:track:0"]["lufs"] - mono["a1b2c3:track:0"]["lufs"] == pytest.approx(
        3.01, abs=0.02
    )
    short = rows_by_segment(run(write_wav(tmp_path / "short.wav", y[: SR // 4]), tmp_path))
    assert short["a1b2c3:track:0"]["lufs"] is None  # shorter than one 400 ms gating block


def test_spectral_shape_and_chroma_of_a_tone(tmp_path):
    row = rows_by_segment(run(write_wav(tmp_path / "a.wav", tone(440.0, 4.0)), tmp_path))[
        "a1b2c3:track:0"
    ]
    assert row["spectral_rolloff_hz"] == pytest.approx(440, abs=15)
    assert row["spectral_bandwidth_hz"] < 250  # magnitude-weighted: the 16-bit floor counts
    assert int(np.argmax(row["chroma_mean"])) == 9 and max(row["chroma_mean"]) == pytest.approx(1)
    assert max(row["chroma_std"]) < 0.05
    clicks = rows_by_segment(run(write_wav(tmp_path / "c.wav", click_track(120, 4.0)), tmp_path))
    steady, moving = row["mfcc_std"], clicks["a1b2c3:track:0"]["mfcc_std"]
    assert len(steady) == len(moving) == 13 and sum(steady) < sum(moving) / 2


def test_chunked_streaming_gives_the_same_rows(tmp_path, monkeypatch):
    """Chunk edges fall inside windows here; sums and series must not notice them."""
    y = np.concatenate([click_track(100, 14.0), tone(330.0, 9.0, amplitude=0.2)])
    path = write_wav(tmp_path / "mixed.wav", y)
    whole = run(path, tmp_path)
    monkeypatch.setattr(audio_frames, "CHUNK_FRAMES", 301)
    pieces = run(path, tmp_path)
    for a, b in zip(
        whole.features["features_audio"], pieces.features["features_audio"], strict=True
    ):
        for name, value in a.items():
            close = isinstance(value, float | list) and value
            assert b[name] == (pytest.approx(value, rel=1e-4, abs=1e-6) if close else value), name


def test_memory_does_not_grow_with_length(tmp_path):
    """The decoded signal is never held whole: 90 s costs about what 30 s does."""
    import tracemalloc

    peaks = []
    for seconds in (30, 90):
        path = write_wav(tmp_path / f"{seconds}.wav", tone(220.0, seconds, amplitude=0.3))
        tracemalloc.start()
        run(path, tmp_path)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    extra = 60 * SR * 4  # float32 samples of the extra minute
    assert peaks[1] - peaks[0] < extra / 5
