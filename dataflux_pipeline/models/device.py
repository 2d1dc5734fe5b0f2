"""Device and precision choice, so the same code runs on a GPU worker and a laptop."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch


def pick_device(preference: str = "auto") -> torch.device:
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(preference)


def pick_dtype(device: torch.device) -> torch.dtype:
    """Half precision where it is fast and safe (CUDA), float32 elsewhere."""
    return torch.float16 if device.type == "cuda" else torch.float32


def model_version(folder: Path) -> str:
    """A short fingerprint of the model's config and weights size, stored beside vectors."""
    h = hashlib.sha256()
    config = folder / "config.json"
    if config.exists():
        h.update(config.read_bytes())
    for weights in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
        h.update(f"{weights.name}:{weights.stat().st_size}".encode())
    return h.hexdigest()[:12]
