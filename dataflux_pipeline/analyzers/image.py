"""Still images: size, EXIF, colours, sharpness, a perceptual hash and a visual descriptor.

The perceptual hash finds exact-content copies cheaply; the descriptor (see `visual`) is
stored as a vector in the `visual` space, so similar-looking images are found by search.
"""

from __future__ import annotations

import json
import warnings
from typing import Any, ClassVar

import numpy as np

from dataflux_pipeline.analyzers.base import (
    AnalysisError,
    AnalysisResult,
    Analyzer,
    MediaItem,
    Segment,
)
from dataflux_pipeline.analyzers.visual import dominant_colours, laplacian_variance, visual_vector
from dataflux_pipeline.settings import Settings, get_settings

_WORK_SIDE = 256  # colours, sharpness and the descriptor are computed at this size
DRAFT_SIDE = 2048  # JPEGs larger than this decode at a power-of-two reduction


class ImageAnalyzer(Analyzer):
    name = "image"
    version = "1.1.0"
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

        limit = self.settings.max_image_pixels
        try:
            with warnings.catch_warnings():  # the size is checked here, against our limit
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                opened = Image.open(item.path)
            with opened:
                width, height = opened.size  # from the header: nothing is decoded yet
                if width * height > limit:
                    raise AnalysisError(
                        f"image is {width}x{height} ({width * height / 1e6:.0f} megapixels), "
                        f"over the limit of {limit / 1e6:.0f} (DATAFLUX_MAX_IMAGE_PIXELS)"
                    )
                exif = {
                    str(Image.ExifTags.TAGS.get(k, k)): str(v)[:200]
                    for k, v in opened.getexif().items()
                }
                # JPEG decodes straight to a smaller scale: every feature reads a reduced copy
                opened.draft("RGB", (DRAFT_SIDE, DRAFT_SIDE))
                img = ImageOps.exif_transpose(opened).convert("RGB")
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise AnalysisError(f"could not decode image: {exc}") from exc
        except Image.DecompressionBombError as exc:
            raise AnalysisError(f"image refused: {exc}") from exc
        if (img.width > img.height) != (width > height) and img.width != img.height:
            width, height = height, width  # EXIF turned it a quarter
        small = img.copy()
        small.thumbnail((_WORK_SIDE, _WORK_SIDE))
        rgb = np.asarray(small)
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
            "sharpness": laplacian_variance(rgb),
            "phash": str(imagehash.phash(small)),
        }
        result = AnalysisResult(segments=[seg], width=width, height=height, metadata={"exif": exif})
        result.add_features("features_image", [self.stamp(row)])
        result.vectors.append(visual_vector(seg, rgb))
        return result
