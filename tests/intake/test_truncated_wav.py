"""A WAV cut a few bytes after its header: decoders read what is there without a word,
so the intake compares the data chunk's promise with the bytes present."""

from __future__ import annotations

from pathlib import Path

from dataflux_pipeline.cli.samples import tone, write_wav
from dataflux_pipeline.intake.records import Limits, Source, take, wav_shortfall


def test_a_cut_wav_is_failed_with_its_shortfall(tmp_path: Path) -> None:
    whole = write_wav(tmp_path / "whole.wav", tone(440, 2.0))
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole.read_bytes()[:60])
    assert wav_shortfall(whole) is None
    st = cut.stat()
    record = take(
        Source("landing", tmp_path),
        "cut.wav",
        (st.st_size, st.st_mtime_ns),
        {},
        tmp_path / "objects",
        Limits(1 << 30, 3600.0),
        lambda mime: "audio",
    )
    assert record.outcome == "failed"
    assert "promises 88200 bytes of audio (2.00 s)" in record.error
    assert "88184 bytes short" in record.error


def test_a_wav_with_a_trailing_chunk_is_whole(tmp_path: Path) -> None:
    whole = write_wav(tmp_path / "whole.wav", tone(440, 0.5))
    extended = tmp_path / "tagged.wav"
    extended.write_bytes(whole.read_bytes() + b"LIST" + (4).to_bytes(4, "little") + b"INFO")
    assert wav_shortfall(extended) is None
