"""Text in images: RapidOCR's PP-OCRv6 detector and recognizer and PP-OCR's orientation
classifier, ONNX files shipped inside the `rapidocr` wheel (Apache-2.0), run through
onnxruntime (CUDA with onnxruntime-gpu). Loaded once per process.

Images are read one at a time (the detector's input size follows the image); the lines a
detector finds are recognized in batches. The detector upscales small images until their
short side reaches `DET_SIDE`, which is what lets it read keyframe-sized text, and large
ones are first shrunk to `MAX_SIDE`, past which a photo's text is legible anyway.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
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

MAX_SIDE = 2000
DET_SIDE = 736
REC_BATCH = 16


@dataclass(frozen=True)
class TextLine:
    """One line of text and where it is: (x0, y0, x1, y1) in pixels of the input."""

    text: str
    confidence: float
    box: tuple[float, float, float, float]


class OcrModel:
    name = "rapidocr-ppocrv6"

    def __init__(self, device: str = "auto", min_confidence: float = 0.5) -> None:
        import rapidocr
        from rapidocr import RapidOCR

        cuda = onnx_providers(device)[0] == "CUDAExecutionProvider"
        self.engine = RapidOCR(
            params={
                "Global.log_level": "error",
                "Global.text_score": min_confidence,
                "Global.max_side_len": MAX_SIDE,
                "Det.limit_side_len": DET_SIDE,
                "Rec.rec_batch_num": REC_BATCH,
                "EngineConfig.onnxruntime.use_cuda": cuda,
            }
        )
        models = sorted(Path(rapidocr.__file__).parent.glob("models/*.onnx"))
        self.version = f"{package_version('rapidocr')}+{weights_digest(*models)}"
        self.device = "cuda" if cuda else "cpu"
        log.info("loaded OCR %s %s on %s", self.name, self.version, self.device)

    def read(self, image: np.ndarray) -> list[TextLine]:
        """Lines of an RGB array, in the detector's reading order (top to bottom, then
        left to right)."""
        out = self.engine(np.ascontiguousarray(image[..., ::-1]))  # RapidOCR wants BGR
        if not out.txts:
            return []
        return [
            TextLine(text.strip(), float(score), _bounds(quad))
            for text, score, quad in zip(out.txts, out.scores, out.boxes, strict=True)
            if text.strip()
        ]


def _bounds(quad: np.ndarray) -> tuple[float, float, float, float]:
    xs, ys = quad[:, 0], quad[:, 1]
    return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())


@lru_cache(maxsize=2)
def load_ocr(device: str = "auto", min_confidence: float = 0.5) -> OcrModel | None:
    """The OCR model, or None (one log line) without the `vision` extra."""
    if absent("rapidocr", "OCR", "vision") or absent("onnxruntime", "OCR", "vision"):
        return None
    return OcrModel(device, min_confidence)
