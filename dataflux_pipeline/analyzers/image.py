"""Still images: size, EXIF, colours, sharpness and a perceptual hash for near-duplicates."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import numpy as np

from dataflux_pipeline.analyzers.base import (
    AnalysisError,
    AnalysisResult,
    Analyzer,
    MediaItem,
    Segment,
)
from dataflux_pipeline.settings import Settings, get_settings


def dominant_colours(rgb: np.ndarray, k: int = 3) -> list[str]:
    """The most frequent colours after quantizing each channel to 8 levels."""
    q = (rgb.reshape(-1, 3) // 32).astype(np.int32)
    codes = q[:, 0] * 64 + q[:, 1] * 8 + q[:, 2]
    counts = np.bincount(codes, minlength=512)
    top = [c for c in np.argsort(-counts)[:k] if counts[c] > 0]
    return [
        "#{:02x}{:02x}{:02x}".format(*(int(v) * 32 + 16 for v in (c // 64, c // 8 % 8, c % 8)))
        for c in top
    ]


def laplacian_variance(gray: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian: higher means sharper."""
    g = gray.astype(np.float32)
    lap = -4 * g[1:-1, 1:-1] + g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]
    return float(lap.var()) if lap.size else 0.0


class ImageAnalyzer(Analyzer):
    name = "image"
    version = "1.0.0"
    media_type = "image"
    supported_mime_types: ClassVar[frozenset[str]] = frozenset(
        {"image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp", "image/tiff"}
    )

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()

    def segment(self, item: MediaItem) -> list[Segment]:
        return [self.new_segment(item, "image", 0)]

    def analyze(self, item: MediaItem, segments: list[Segment]) -> AnalysisResult:
        import imagehash
        from PIL import Image, ImageOps, UnidentifiedImageError

        try:
            with Image.open(item.path) as opened:
                exif = {
                    str(Image.ExifTags.TAGS.get(k, k)): str(v)[:200]
                    for k, v in opened.getexif().items()
                }
                img = ImageOps.exif_transpose(opened).convert("RGB")
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise AnalysisError(f"could not decode image: {exc}") from exc
        width, height = img.size
        small = img.copy()
        small.thumbnail((256, 256))
        rgb = np.asarray(small)
        gray = np.asarray(small.convert("L"))
        seg = segments[0]
        target, rel = item.thumbnail("image.jpg")
        thumb = img.copy()
        thumb.thumbnail((self.settings.thumbnail_width, self.settings.thumbnail_width))
        thumb.save(target, "JPEG", quality=85)
        seg = seg.model_copy(update={"thumbnail": rel})
        row: dict[str, Any] = {
            "segment_id": seg.segment_id,
            "asset_id": seg.asset_id,
            "width": width,
            "height": height,
            "exif": json.dumps(exif, sort_keys=True),
            "dominant_colours": dominant_colours(rgb),
            "sharpness": laplacian_variance(gray),
            "phash": str(imagehash.phash(img)),
        }
        result = AnalysisResult(segments=[seg], width=width, height=height, metadata={"exif": exif})
        result.add_features("features_image", [self.stamp(row)])
        return result
