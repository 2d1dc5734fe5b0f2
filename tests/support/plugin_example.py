"""A third-party analyzer, loaded in the tests through a real entry point."""

from typing import ClassVar

from dataflux_pipeline.analyzers import AnalysisResult, Analyzer, MediaItem, Segment


class CsvAnalyzer(Analyzer):
    name = "csv-rows"
    version = "0.1.0"
    media_type = "document"
    supported_mime_types: ClassVar[frozenset[str]] = frozenset({"text/csv"})

    def __init__(self, settings=None) -> None:
        self.settings = settings

    def segment(self, item: MediaItem) -> list[Segment]:
        lines = item.path.read_text().splitlines()[1:]
        return [self.new_segment(item, "row", n, text=line) for n, line in enumerate(lines)]

    def analyze(self, item: MediaItem, segments: list[Segment]) -> AnalysisResult:
        return AnalysisResult(segments=segments)
