"""Whisper speech to text: a local model folder, loaded once per process, on CUDA in fp16
when present, fed batches of independent 30 s chunks.

Chunks are decoded in one `generate` call each (no seeking back into a chunk, so the cost
is known in advance) with Whisper's timestamp tokens, which split a chunk into timed
pieces; text after the last timestamp runs to the end of the chunk, and a model without
timestamp tokens gives one piece per chunk.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from dataflux_pipeline.models.device import model_version, pick_device, pick_dtype
from dataflux_pipeline.models.transcripts import TranscriptPiece

log = logging.getLogger(__name__)

TIME_PRECISION = 0.02  # seconds per timestamp token


def split_timestamps(
    ids: list[int], timestamp_begin: int | None, special: set[int], duration: float
) -> list[tuple[float, float, list[int]]]:
    """(start, end, text token ids) per timed piece of one decoded chunk.

    A timestamp after text closes a piece; the next one opens the following piece. Times
    are kept in order and inside [0, duration], whatever the model predicted.
    """
    pieces: list[tuple[float, float, list[int]]] = []
    start, text = 0.0, []
    for token in ids:
        if timestamp_begin is not None and token >= timestamp_begin:
            moment = (token - timestamp_begin) * TIME_PRECISION
            if text:
                pieces.append((start, moment, text))
                text = []
            start = moment
        elif token not in special:
            text.append(token)
    if text:
        pieces.append((start, duration, text))
    ordered: list[tuple[float, float, list[int]]] = []
    for start, end, tokens in pieces:
        if ordered:
            start = max(start, ordered[-1][1])
            if start >= duration:  # past the end of a short last chunk: same words
                ordered[-1][2].extend(tokens)
                continue
        elif start >= duration:
            start = 0.0
        ordered.append((start, min(max(end, start), duration), tokens))
    return ordered


class WhisperTranscriber:
    def __init__(self, folder: str | Path, device: str = "auto", batch_size: int = 8) -> None:
        from transformers import WhisperForConditionalGeneration, WhisperProcessor

        self.folder = Path(folder)
        if not (self.folder / "config.json").exists():
            raise FileNotFoundError(f"no Whisper model at {self.folder} (DATAFLUX_WHISPER_MODEL)")
        self.device = pick_device(device)
        self.batch_size = batch_size
        self.processor = WhisperProcessor.from_pretrained(self.folder, local_files_only=True)
        self.model = WhisperForConditionalGeneration.from_pretrained(
            self.folder, local_files_only=True, dtype=pick_dtype(self.device)
        )
        self.model.to(self.device).eval()
        extractor = self.processor.feature_extractor
        self.sample_rate = int(extractor.sampling_rate)
        self.chunk_samples = int(extractor.n_samples)
        generation = self.model.generation_config
        no_timestamps = getattr(generation, "no_timestamps_token_id", None)
        self.timestamp_begin = no_timestamps + 1 if no_timestamps is not None else None
        self.multilingual = bool(getattr(generation, "is_multilingual", False))
        self.special = set(self.processor.tokenizer.all_special_ids)
        eos = generation.eos_token_id
        if self.timestamp_begin is not None and eos is not None:
            first = min(eos) if isinstance(eos, list) else eos  # Whisper's control tokens sit
            self.special |= set(range(first, self.timestamp_begin))  # between text and times
        self.name = self.folder.name
        self.version = model_version(self.folder)
        log.info("loaded Whisper model %s on %s", self.name, self.device)

    @torch.inference_mode()
    def transcribe(self, chunks: list[np.ndarray]) -> list[list[TranscriptPiece]]:
        """Timed text per chunk (each at most 30 s at `sample_rate`), times from its start."""
        features = self.processor.feature_extractor(
            chunks,
            sampling_rate=self.sample_rate,
            return_tensors="pt",
            return_attention_mask=True,
            device=str(self.device),
        )
        options: dict = {"task": "transcribe"} if self.multilingual else {}
        if self.timestamp_begin is not None:
            options |= {"return_timestamps": True, "force_unique_generate_call": True}
        sequences = self.model.generate(
            features.input_features.to(self.device, self.model.dtype),
            attention_mask=features.attention_mask.to(self.device),
            **options,
        )
        if not isinstance(sequences, torch.Tensor):
            sequences = sequences["sequences"]
        decode = self.processor.tokenizer.decode
        return [
            [
                TranscriptPiece(start, end, text)
                for start, end, ids in split_timestamps(
                    row, self.timestamp_begin, self.special, len(chunk) / self.sample_rate
                )
                if (text := decode(ids, skip_special_tokens=True).strip())
            ]
            for row, chunk in zip(sequences.tolist(), chunks, strict=True)
        ]


@lru_cache(maxsize=2)
def load_whisper(folder: str, device: str = "auto", batch_size: int = 8) -> WhisperTranscriber:
    """One load per process, whatever number of files use it."""
    return WhisperTranscriber(folder, device, batch_size)
