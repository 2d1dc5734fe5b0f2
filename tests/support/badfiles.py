"""Generators for broken and awkward inputs (test-only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_audio(path: Path, codec: str, seconds: float, sr: int = 22050, hz: float = 330.0) -> Path:
    import av

    t = np.arange(int(seconds * sr)) / sr
    samples = (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    fmt = {"libmp3lame": "fltp", "aac": "fltp", "flac": "s16"}[codec]
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=sr)
        stream.layout = "mono"
        block = 1152
        for start in range(0, samples.size, block):
            chunk = samples[None, start : start + block]
            if fmt == "s16":
                chunk = (chunk * 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(chunk, format=fmt, layout="mono")
            frame.sample_rate, frame.pts = sr, start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def write_silence_flac(path: Path, hours: float, sr: int = 8000) -> Path:
    """Hours of digital silence; FLAC squeezes it to a few MB."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("flac", rate=sr)
        stream.layout = "mono"
        block = np.zeros((1, sr * 60), np.int16)
        for start in range(0, int(hours * 3600 * sr), block.shape[1]):
            frame = av.AudioFrame.from_ndarray(block, format="s16", layout="mono")
            frame.sample_rate, frame.pts = sr, start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def truncate(src: Path, dst: Path, fraction: float = 0.4) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst
