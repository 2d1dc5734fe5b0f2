"""A not-safe-for-work score per picture (`features_vision.nsfw_score`), for the search
service's `safe` filter: a file is as unsafe as its least safe picture."""

from __future__ import annotations

from dataflux_pipeline.analyzers.base import AnalysisResult, MediaItem
from dataflux_pipeline.analyzers.vision.base import Enricher, Visual


class SafetyEnricher(Enricher):
    name = "safety"
    kinds = frozenset({"image", "keyframe"})

    def model(self):
        from dataflux_pipeline.models.nsfw import load_nsfw

        return load_nsfw(self.settings.device)

    def run(self, item: MediaItem, visuals: list[Visual], out: AnalysisResult) -> None:
        scores = self.model().score([v.image for v in visuals])
        out.add_features(
            "features_vision",
            [
                self.row(v.segment, nsfw_score=float(s))
                for v, s in zip(visuals, scores, strict=True)
            ],
        )
