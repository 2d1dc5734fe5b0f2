"""CLIP image and text towers in one space, so a text query can find keyframes and images."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from dataflux_pipeline.models.device import model_version, pick_device, pick_dtype

log = logging.getLogger(__name__)


def _as_tensor(output) -> torch.Tensor:
    """transformers 5 may wrap projected features in an output object."""
    if isinstance(output, torch.Tensor):
        return output
    return output.pooler_output


class ClipEmbedder:
    space = "clip"

    def __init__(self, folder: str | Path, device: str = "auto", batch_size: int = 32) -> None:
        from transformers import CLIPModel, CLIPProcessor

        self.folder = Path(folder)
        if not (self.folder / "config.json").exists():
            raise FileNotFoundError(f"no CLIP model at {self.folder} (DATAFLUX_CLIP_MODEL)")
        self.device = pick_device(device)
        self.batch_size = batch_size
        self.processor = CLIPProcessor.from_pretrained(self.folder, local_files_only=True)
        self.model = CLIPModel.from_pretrained(
            self.folder, local_files_only=True, dtype=pick_dtype(self.device)
        )
        self.model.to(self.device).eval()
        self.dim = int(self.model.config.projection_dim)
        self.name = self.folder.name
        self.version = model_version(self.folder)
        log.info("loaded CLIP model %s on %s", self.name, self.device)

    def _normalized(self, features: torch.Tensor) -> np.ndarray:
        return torch.nn.functional.normalize(features.float(), dim=-1).cpu().numpy()

    @torch.inference_mode()
    def encode_images(self, paths: list[Path]) -> np.ndarray:
        from PIL import Image

        chunks = [np.zeros((0, self.dim), np.float32)]
        for start in range(0, len(paths), self.batch_size):
            images = [Image.open(p).convert("RGB") for p in paths[start : start + self.batch_size]]
            inputs = self.processor(images=images, return_tensors="pt").to(self.device)
            pixels = inputs["pixel_values"].to(self.model.dtype)
            chunks.append(self._normalized(_as_tensor(self.model.get_image_features(pixels))))
        return np.concatenate(chunks)

    @torch.inference_mode()
    def encode_texts(self, texts: list[str]) -> np.ndarray:
        chunks = [np.zeros((0, self.dim), np.float32)]
        max_len = int(self.model.config.text_config.max_position_embeddings)
        for start in range(0, len(texts), self.batch_size):
            inputs = self.processor(
                text=texts[start : start + self.batch_size],
                padding=True,
                truncation=True,
                max_length=max_len,
                return_tensors="pt",
            ).to(self.device)
            features = self.model.get_text_features(
                input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]
            )
            chunks.append(self._normalized(_as_tensor(features)))
        return np.concatenate(chunks)


@lru_cache(maxsize=2)
def load_clip_embedder(folder: str, device: str = "auto", batch_size: int = 32) -> ClipEmbedder:
    return ClipEmbedder(folder, device, batch_size)
