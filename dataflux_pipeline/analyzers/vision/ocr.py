"""Text in pictures (signs, screenshots, scanned pages) as searchable text segments.

One `ocr` segment per picture holds its lines in reading order, so the text model sees
them together (a sign's two lines are one phrase); each line's box and confidence go to
`features_region`, so a hit can be highlighted where it sits in the picture.
"""

from __future__ import annotations

import numpy as np

from dataflux_pipeline.analyzers.base import AnalysisResult, MediaItem
from dataflux_pipeline.analyzers.vision.base import Enricher, Visual, box


class OcrEnricher(Enricher):
    name = "ocr"
    kinds = frozenset({"image", "keyframe", "page"})

    def model(self):
        from dataflux_pipeline.models.ocr import load_ocr

        return load_ocr(self.settings.device, self.settings.ocr_min_confidence)

    def run(self, item: MediaItem, visuals: list[Visual], out: AnalysisResult) -> None:
        model = self.model()
        for visual in visuals:
            lines = [line for line in model.read(np.asarray(visual.image)) if _letters(line.text)]
            if sum(_letters(line.text) for line in lines) < self.settings.ocr_min_chars:
                continue  # shapes read as bullets and stray marks are not text
            text = "\n".join(line.text for line in lines)
            seg = self.child(item, "ocr", visual.segment, text=text)
            out.segments.append(seg)
            width, height = visual.image.size
            out.add_features(
                "features_region",
                [
                    self.row(
                        seg,
                        parent_id=visual.segment.segment_id,
                        kind="ocr",
                        region=n,
                        text=line.text,
                        confidence=line.confidence,
                        **box(line.box, width, height),
                    )
                    for n, line in enumerate(lines)
                ],
            )


def _letters(text: str) -> int:
    return sum(ch.isalnum() for ch in text)
