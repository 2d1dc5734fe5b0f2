"""Which segments go into which model space, defined once for the pipeline's embeddings
step and the service's search-by-file: text through the text model (pages excepted: their
text is already in their chunks, and embedding it twice adds noise; OCR'd text and image
tags are text like any other), thumbnails through CLIP when it is configured (face crops
excepted: a face is found through the `faces` space, which the analysis step writes when
face recognition is on, and crops in CLIP's space would crowd out the pictures they are
cut from)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

CONTAINER_KINDS = ("page",)
CROP_KINDS = ("face",)


def text_segments(segments: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [s for s in segments if s.get("text") and s.get("kind") not in CONTAINER_KINDS]


def image_segments(segments: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [s for s in segments if s.get("thumbnail") and s.get("kind") not in CROP_KINDS]


def embed_segments(
    segments: Sequence[Mapping[str, Any]],
    text_model,
    clip_model,
    image_root: Path,
    limit: int | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, tuple[list[Mapping[str, Any]], np.ndarray, Any]]:
    """space -> (segments, their unit vectors, the model), `limit` segments per space."""
    out = {}
    texts = text_segments(segments)[:limit]
    if texts and text_model is not None:
        vectors = text_model.encode([s["text"] for s in texts])
        out[text_model.space] = (texts, vectors, text_model)
        log(f"embedded {len(texts)} text segments with {text_model.name} on {text_model.device}")
    images = image_segments(segments)[:limit]
    if images and clip_model is not None:
        vectors = clip_model.encode_images([image_root / s["thumbnail"] for s in images])
        out[clip_model.space] = (images, vectors, clip_model)
        log(f"embedded {len(images)} images/keyframes with {clip_model.name}")
    elif images:
        log(f"CLIP not configured: {len(images)} images/keyframes not embedded")
    return out
