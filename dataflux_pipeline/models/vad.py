"""Voice activity: Silero VAD (`silero-vad`, MIT, ONNX inside the wheel), the "sequence"
export that scores a block of 32 ms frames in one onnxruntime call, fed a stream.

Each frame sees the last 64 samples of the frame before it and the LSTM state carries
across blocks, so scoring a file in blocks gives the same probabilities as scoring it
whole; memory stays at one block (about 16 s of 16 kHz audio) whatever the length.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np

from dataflux_pipeline.models.packaged import (
    absent,
    onnx_providers,
    package_version,
    weights_digest,
)

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
FRAME = 512  # samples per probability: 32 ms
CONTEXT = 64  # samples of the previous frame each frame sees
BLOCK_FRAMES = 512  # frames per onnxruntime call


class SileroVad:
    name = "silero-vad"
    sample_rate = SAMPLE_RATE
    frame_s = FRAME / SAMPLE_RATE

    def __init__(self, device: str = "auto") -> None:
        import onnxruntime as ort
        import silero_vad

        path = Path(silero_vad.__file__).parent / "data" / "silero_vad_16k_sequence.onnx"
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1  # a tiny LSTM
        providers = onnx_providers(device)
        self.session = ort.InferenceSession(str(path), options, providers=providers)
        self.version = f"{package_version('silero-vad')}+{weights_digest(path)}"
        self.device = "cuda" if providers[0].startswith("CUDA") else "cpu"
        log.info("loaded VAD %s on %s", self.name, self.device)

    def probabilities(self, blocks: Iterable[np.ndarray]) -> np.ndarray:
        """P(speech) per 32 ms frame of a mono 16 kHz stream; the last frame is padded."""
        state = np.zeros((1, 1, 128), np.float32), np.zeros((1, 1, 128), np.float32)
        context = np.zeros(CONTEXT, np.float32)
        out: list[np.ndarray] = []
        held = np.zeros(0, np.float32)
        step = FRAME * BLOCK_FRAMES
        for block in blocks:
            held = np.concatenate([held, np.asarray(block, np.float32)])
            while len(held) >= step:
                context, state = self._run(held[:step], context, state, out)
                held = held[step:]
        if len(held):
            padded = np.zeros(-(-len(held) // FRAME) * FRAME, np.float32)
            padded[: len(held)] = held
            self._run(padded, context, state, out)
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def _run(self, samples, context, state, out):
        frames = samples.reshape(-1, FRAME)
        contexts = np.vstack([context[None], frames[:-1, -CONTEXT:]])
        probs, h, c = self.session.run(
            ["speech_probs", "hn", "cn"],
            {"input": np.hstack([contexts, frames]), "h": state[0], "c": state[1]},
        )
        out.append(np.asarray(probs, np.float32).reshape(-1))
        return frames[-1, -CONTEXT:].copy(), (h, c)


def speech_regions(
    probs: np.ndarray,
    threshold: float = 0.5,
    min_speech_s: float = 0.25,
    min_silence_s: float = 0.5,
    pad_s: float = 0.05,
) -> list[tuple[float, float]]:
    """(start, end) seconds of speech: frames above `threshold` open a region, which closes
    after `min_silence_s` below `threshold - 0.15` (hysteresis, as Silero's own helper);
    shorter regions are dropped, the rest padded."""
    frame_s = FRAME / SAMPLE_RATE
    regions: list[tuple[float, float]] = []
    start = quiet = None
    for i, p in enumerate(probs):
        if start is None:
            if p >= threshold:
                start, quiet = i, None
            continue
        if p >= threshold - 0.15:
            quiet = None
        elif quiet is None:
            quiet = i
        elif (i - quiet) * frame_s >= min_silence_s:
            regions.append((start * frame_s, quiet * frame_s))
            start = quiet = None
    if start is not None:
        regions.append((start * frame_s, (quiet if quiet is not None else len(probs)) * frame_s))
    end = len(probs) * frame_s
    return [(max(0.0, a - pad_s), min(end, b + pad_s)) for a, b in regions if b - a >= min_speech_s]


@lru_cache(maxsize=2)
def load_vad(device: str = "auto") -> SileroVad | None:
    """Silero VAD, or None (one log line) without the `speech` extra."""
    if absent("silero_vad", "voice activity detection", "speech"):
        return None
    return SileroVad(device)
