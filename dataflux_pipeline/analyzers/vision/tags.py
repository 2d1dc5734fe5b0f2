"""What a picture shows, as words: the tagger's top ImageNet classes and their everyday
group words, written as one `tag` segment of text per picture (so "cat" and "coffee cup"
find photos through the text index like any text) and as labels with scores in
`features_vision` (for filters)."""

from __future__ import annotations

from dataflux_pipeline.analyzers.base import AnalysisResult, MediaItem
from dataflux_pipeline.analyzers.vision.base import Enricher, Visual


def tag_text(tags) -> str:
    """ "Egyptian cat, tiger cat, cat": labels by score, then each group word once."""
    words = [t.label for t in tags]
    for t in tags:
        if t.group and t.group not in words:
            words.append(t.group)
    return ", ".join(words)


class TagEnricher(Enricher):
    name = "tags"
    kinds = frozenset({"image", "keyframe"})

    def model(self):
        from dataflux_pipeline.models.mobilenet import load_tagger

        return load_tagger(self.settings.device)

    def run(self, item: MediaItem, visuals: list[Visual], out: AnalysisResult) -> None:
        found = self.model().tag(
            [v.image for v in visuals], self.settings.tag_top_k, self.settings.tag_min_score
        )
        for visual, tags in zip(visuals, found, strict=True):
            out.add_features(
                "features_vision",
                [
                    self.row(
                        visual.segment,
                        tags=[t.label for t in tags],
                        tag_scores=[t.score for t in tags],
                    )
                ],
            )
            if tags:
                out.segments.append(self.child(item, "tag", visual.segment, text=tag_text(tags)))
