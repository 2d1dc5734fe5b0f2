"""Vision enrichers: text (OCR), tags, faces and a safety score for every picture an
analysis holds: an image, a video's keyframes, a PDF's pages without a text layer.

They run after the file's own analyzer, in batches of pictures, each behind its own
setting and its package (absent, it is off with one log line). An image is read again at
up to `MAX_SIDE` (its thumbnail is too small for text), a keyframe from its thumbnail
(the video is not decoded twice), a scanned page rendered at `PAGE_WIDTH`, about 190 dpi
for A4, which OCR needs and the 320 px thumbnail cannot give. A model that fails on a
batch is logged and skipped: the file keeps the rest of its analysis.
"""

from __future__ import annotations

import logging
import warnings

from dataflux_pipeline.analyzers.base import AnalysisResult, MediaItem, Segment
from dataflux_pipeline.analyzers.vision.base import Enricher, Visual
from dataflux_pipeline.analyzers.vision.faces import FaceEnricher
from dataflux_pipeline.analyzers.vision.ocr import OcrEnricher
from dataflux_pipeline.analyzers.vision.safety import SafetyEnricher
from dataflux_pipeline.analyzers.vision.tags import TagEnricher
from dataflux_pipeline.settings import Settings

log = logging.getLogger(__name__)

BATCH = 16  # pictures held at once
MAX_SIDE = 2000
PAGE_WIDTH = 1600
# enricher and the setting that switches it
ENRICHERS: tuple[tuple[type[Enricher], str], ...] = (
    (OcrEnricher, "ocr"),
    (TagEnricher, "image_tags"),
    (FaceEnricher, "face_detection"),
    (SafetyEnricher, "safety"),
)


def enrichers(settings: Settings) -> list[Enricher]:
    """The enrichers switched on whose model loads here."""
    active = [cls(settings) for cls, knob in ENRICHERS if getattr(settings, knob)]
    return [e for e in active if e.model() is not None]


def _image(item: MediaItem):
    from PIL import Image, ImageOps

    with warnings.catch_warnings():  # the image analyzer already checked the pixel limit
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(item.path) as opened:
            opened.draft("RGB", (MAX_SIDE, MAX_SIDE))
            image = ImageOps.exif_transpose(opened).convert("RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    return image


def _page(item: MediaItem, seg: Segment):
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(item.path)
    try:
        page = pdf[seg.index]
        return page.render(scale=PAGE_WIDTH / max(1.0, page.get_width())).to_pil().convert("RGB")
    finally:
        pdf.close()


def picture(item: MediaItem, seg: Segment) -> Visual | None:
    """The picture an enricher looks at for `seg`, or None when it has none."""
    from PIL import Image

    if seg.kind == "image":
        return Visual(seg, _image(item))
    if seg.kind == "keyframe" and seg.thumbnail:
        with Image.open(item.derived(seg.thumbnail)) as thumb:
            return Visual(seg, thumb.convert("RGB"))
    if seg.kind == "page" and seg.thumbnail:  # pages get thumbnails only without text
        return Visual(seg, _page(item, seg))
    return None


def enrich(item: MediaItem, result: AnalysisResult, settings: Settings) -> None:
    """Add what the enrichers see in the result's pictures to `result`."""
    kinds = {"image", "keyframe", "page"}
    targets = [s for s in result.segments if s.kind in kinds and s.thumbnail]
    active = enrichers(settings) if targets else []
    for start in range(0, len(targets) if active else 0, BATCH):
        visuals = [v for s in targets[start : start + BATCH] if (v := picture(item, s))]
        for enricher in active:
            mine = [v for v in visuals if v.segment.kind in enricher.kinds]
            if not mine:
                continue
            try:
                enricher.run(item, mine, result)
            except Exception as exc:  # a model's failure must not lose the file's analysis
                log.warning("%s: %s skipped: %r", item.path.name, enricher.name, exc)
