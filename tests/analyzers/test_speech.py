"""Speech to text: timestamp parsing, chunking and batching, and a tiny random Whisper
run through the same loading and transcription code as a real one."""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import numpy as np
import pytest

from dataflux_pipeline.analyzers.audio import analyzer as audio_module
from dataflux_pipeline.analyzers.audio.analyzer import AudioAnalyzer
from dataflux_pipeline.analyzers.audio.decode import AudioStream, mono
from dataflux_pipeline.analyzers.audio.speech import TranscriptPiece, chunks, transcribe
from dataflux_pipeline.analyzers.base import MediaItem
from dataflux_pipeline.cli.samples import write_wav
from dataflux_pipeline.models.whisper import load_whisper, split_timestamps
from dataflux_pipeline.settings import Settings

LETTERS = "abcdefghijklmnopqrstuvwxyz"
SPECIALS = [
    "<|endoftext|>",
    "<|startoftranscript|>",
    "<|en|>",
    "<|de|>",
    "<|translate|>",
    "<|transcribe|>",
    "<|startoflm|>",
    "<|startofprev|>",
    "<|nospeech|>",
    "<|notimestamps|>",
]


@pytest.fixture(scope="session")
def tiny_whisper(tmp_path_factory) -> Path:
    """A random-weight Whisper with a letters-only tokenizer, saved like a real model folder.

    Letter logits are scaled up so the decoder writes text, not only timestamps (1501
    timestamp tokens would otherwise outweigh 26 letters); everything else is random.
    """
    import torch
    from transformers import (
        GenerationConfig,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
        WhisperTokenizer,
    )

    folder = tmp_path_factory.mktemp("tiny-whisper")
    vocab = {c: i for i, c in enumerate([*LETTERS, "Ġ"])}
    for token in SPECIALS + [f"<|{i * 0.02:.2f}|>" for i in range(1501)]:
        vocab[token] = len(vocab)
    tokenizer = WhisperTokenizer(vocab=vocab, merges=[])
    tokenizer.add_special_tokens({"additional_special_tokens": SPECIALS[1:]})
    tokenizer.add_tokens([t for t in vocab if t.startswith("<|") and t[2].isdigit()])
    eos, start = vocab["<|endoftext|>"], vocab["<|startoftranscript|>"]
    ids = {"pad_token_id": eos, "bos_token_id": eos, "eos_token_id": eos}
    config = WhisperConfig(
        vocab_size=len(vocab),
        num_mel_bins=80,
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_source_positions=1500,
        max_target_positions=64,
        decoder_start_token_id=start,
        **ids,
    )
    torch.manual_seed(0)
    model = WhisperForConditionalGeneration(config)
    with torch.no_grad():
        model.get_output_embeddings().weight[: len(LETTERS)] *= 30
    model.generation_config = GenerationConfig(
        decoder_start_token_id=start,
        no_timestamps_token_id=vocab["<|notimestamps|>"],
        is_multilingual=True,
        lang_to_id={k: vocab[k] for k in ("<|en|>", "<|de|>")},
        task_to_id={"transcribe": vocab["<|transcribe|>"], "translate": vocab["<|translate|>"]},
        max_initial_timestamp_index=50,
        max_length=16,
        **ids,
    )
    model.save_pretrained(folder)
    processor = WhisperProcessor(WhisperFeatureExtractor(feature_size=80), tokenizer)
    processor.save_pretrained(folder)
    return folder


def test_split_timestamps_pairs_trailing_text_and_overruns() -> None:
    ts, special = 100, {90, 91, 92}

    def at(seconds: float) -> int:
        return ts + round(seconds / 0.02)

    ids = [90, 91, at(0.0), 1, 2, at(2.0), at(2.0), 3, at(4.5), at(5.0), 4, 5]
    assert split_timestamps(ids, ts, special, 30.0) == [
        (0.0, 2.0, [1, 2]),
        (2.0, 4.5, [3]),
        (5.0, 30.0, [4, 5]),  # no closing timestamp: runs to the end of the chunk
    ]
    # a short last chunk: times past its end are clipped, words there join the piece before
    assert split_timestamps([at(1.0), 1, at(9.0), at(9.0), 2, at(12.0)], ts, special, 6.0) == [
        (1.0, 6.0, [1, 2])
    ]
    # out-of-order times are held in order; no timestamps at all is one piece per chunk
    assert split_timestamps([at(3.0), 1, at(1.0), 2, at(2.0)], ts, special, 10.0) == [
        (3.0, 3.0, [1]),
        (3.0, 3.0, [2]),
    ]
    assert split_timestamps([91, 1, 2, 90], None, special, 7.5) == [(0.0, 7.5, [1, 2])]


def test_chunks_cover_the_stream_in_order() -> None:
    blocks = [np.full(n, float(i), np.float32) for i, n in enumerate([7, 3, 12, 1])]
    got = list(chunks(blocks, 5))
    assert [start for start, _ in got] == [0, 5, 10, 15, 20]
    assert [len(c) for _, c in got] == [5, 5, 5, 5, 3]
    assert np.concatenate([c for _, c in got]).tolist() == np.concatenate(blocks).tolist()


class FakeModel:
    sample_rate, chunk_samples, batch_size = 10, 30, 2

    def __init__(self) -> None:
        self.batches: list[int] = []

    def transcribe(self, chunks: list[np.ndarray]) -> list[list[TranscriptPiece]]:
        self.batches.append(len(chunks))
        return [[TranscriptPiece(1.0, len(c) / 10, f"{len(c)}")] for c in chunks]


def test_transcribe_batches_and_skips_silent_chunks() -> None:
    loud = np.sin(np.arange(30)).astype(np.float32) * 0.5
    signal = np.concatenate([loud, np.zeros(30, np.float32), loud, loud, loud[:12]])
    model = FakeModel()
    pieces = transcribe(np.array_split(signal, 7), model)
    assert model.batches == [2, 2]  # four chunks with sound, two per batch
    assert [(p.start_s, p.end_s) for p in pieces] == [
        (1.0, 3.0),
        (7.0, 9.0),
        (10.0, 12.0),
        (13.0, 13.2),
    ]


def speech_file(tmp_path: Path, fixtures_dir: Path) -> tuple[Path, float]:
    """Three 30 s chunks: LibriSpeech twice, then silence, then a short one with speech."""
    with AudioStream(fixtures_dir / "audio" / "5703-47212-0000.ogg", 16000) as s:
        voice = np.concatenate([mono(p) for p in s.blocks()])
    talk = np.concatenate([voice, voice])
    y = np.concatenate([talk, np.zeros(16000 * 60 - len(talk), np.float32), voice])
    return write_wav(tmp_path / "talk.wav", y, sr=16000), len(y) / 16000


def test_tiny_whisper_transcript_segments(tmp_path, tiny_whisper, fixtures_dir) -> None:
    path, duration = speech_file(tmp_path, fixtures_dir)
    load_whisper.cache_clear()
    settings = Settings(whisper_model=str(tiny_whisper), whisper_batch_size=2, device="cpu")
    analyzer = AudioAnalyzer(settings)
    item = MediaItem(path, "a1b2c3", "audio/wav", tmp_path / "store")
    result = analyzer.run(item)
    pieces = [s for s in result.segments if s.kind == "transcript"]
    assert pieces, "the tiny model writes letters, so every chunk with sound has text"
    assert [p.index for p in pieces] == list(range(len(pieces)))
    assert all(p.parent_id == "a1b2c3:track:0" for p in pieces)
    starts = [p.start_s for p in pieces]
    assert starts == sorted(starts)
    assert all(0 <= p.start_s <= p.end_s <= duration + 1e-6 for p in pieces)
    assert all(a.end_s <= b.start_s + 1e-6 for a, b in itertools.pairwise(pieces))
    covered = {int(p.start_s // 30) for p in pieces}
    assert covered == {0, 2}  # the silent chunk is not sent to the model
    assert all(isinstance(p.text, str) and p.text for p in pieces)
    assert all(set(p.text) <= set(LETTERS + " ") for p in pieces)
    short = write_wav(tmp_path / "short.wav", np.sin(np.arange(16000) / 3).astype(np.float32))
    assert analyzer.run(MediaItem(short, "d4e5f6", "audio/wav", tmp_path / "store")).segments
    assert load_whisper.cache_info().misses == 1  # loaded once for both files


def test_whisper_unset_skips_with_one_log_line(tmp_path, caplog) -> None:
    audio_module._note_no_whisper.cache_clear()
    path = write_wav(tmp_path / "tone.wav", np.sin(np.arange(22050 * 2) / 5).astype(np.float32))
    analyzer = AudioAnalyzer(Settings(whisper_model=None))
    with caplog.at_level(logging.INFO, logger="dataflux_pipeline.analyzers.audio.analyzer"):
        for name in ("a", "b"):
            result = analyzer.run(MediaItem(path, name, "audio/wav", tmp_path / "store"))
            assert not [s for s in result.segments if s.kind == "transcript"]
    assert [r.getMessage() for r in caplog.records if "speech to text" in r.getMessage()] == [
        "speech to text skipped: DATAFLUX_WHISPER_MODEL is not set"
    ]
