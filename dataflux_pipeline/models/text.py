"""Sentence embeddings with a BERT-style encoder: mean pooling over tokens, L2-normalized,
the same recipe sentence-transformers applies for all-MiniLM-L6-v2."""

from __future__ import annotations

import json
import logging
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from dataflux_pipeline.models.device import model_version, pick_device, pick_dtype

log = logging.getLogger(__name__)


class TextEmbedder:
    space = "text"

    def __init__(self, folder: str | Path, device: str = "auto", batch_size: int = 64) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.folder = Path(folder)
        if not (self.folder / "config.json").exists():
            raise FileNotFoundError(f"no text model at {self.folder} (DATAFLUX_TEXT_MODEL)")
        self.device = pick_device(device)
        self.batch_size = batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(self.folder, local_files_only=True)
        self.model = AutoModel.from_pretrained(
            self.folder, local_files_only=True, dtype=pick_dtype(self.device)
        )
        self.model.to(self.device).eval()
        self.max_length = self._max_length()
        self.dim = int(self.model.config.hidden_size)
        self.name = self.folder.name if self.folder.name != "model" else self._hub_name()
        self.version = model_version(self.folder)
        log.info("loaded text model %s on %s", self.name, self.device)

    def _max_length(self) -> int:
        st_config = self.folder / "sentence_bert_config.json"
        if st_config.exists():
            return int(json.loads(st_config.read_text())["max_seq_length"])
        return min(512, int(self.tokenizer.model_max_length))

    def _hub_name(self) -> str:
        readme = self.folder / "README.md"
        if readme.exists() and "all-MiniLM-L6-v2" in readme.read_text(errors="ignore"):
            return "all-MiniLM-L6-v2"
        return self.folder.parent.name

    @torch.inference_mode()
    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors, one row per text; batches sorted by length to waste less padding."""
        out = np.zeros((len(texts), self.dim), np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), self.batch_size):
            idx = order[start : start + self.batch_size]
            batch = self.tokenizer(
                [texts[i] for i in idx],
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            ).to(self.device)
            hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled.float(), dim=-1)
            out[idx] = pooled.cpu().numpy()
        return out


_LOADING = threading.Lock()


def load_text_embedder(folder: str, device: str = "auto", batch_size: int = 64) -> TextEmbedder:
    """One load per process, whatever number of runs, requests or warm-up threads ask
    for it at once."""
    with _LOADING:
        return _load(folder, device, batch_size)


@lru_cache(maxsize=4)
def _load(folder: str, device: str, batch_size: int) -> TextEmbedder:
    return TextEmbedder(folder, device, batch_size)
