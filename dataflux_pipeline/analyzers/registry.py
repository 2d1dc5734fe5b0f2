"""Analyzers keyed by MIME type; third parties plug in through the `dataflux.analyzers`
entry-point group (an Analyzer subclass taking `settings`)."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

from dataflux_pipeline.analyzers.base import Analyzer
from dataflux_pipeline.settings import Settings, get_settings

ENTRY_POINT_GROUP = "dataflux.analyzers"
log = logging.getLogger(__name__)


class AnalyzerRegistry:
    def __init__(self, settings: Settings | None = None) -> None:
        self._by_mime: dict[str, Analyzer] = {}
        self.settings = settings or get_settings()  # what the vision enrichers read

    def register(self, analyzer: Analyzer) -> None:
        """Later registrations win, so a plugin can replace a built-in for a MIME type."""
        for mime in analyzer.supported_mime_types:
            self._by_mime[mime] = analyzer

    def for_mime(self, mime_type: str) -> Analyzer | None:
        return self._by_mime.get(mime_type)

    def media_type(self, mime_type: str) -> str | None:
        analyzer = self.for_mime(mime_type)
        return analyzer.media_type if analyzer else None

    @property
    def mime_types(self) -> list[str]:
        return sorted(self._by_mime)

    @property
    def analyzers(self) -> list[Analyzer]:
        return list({id(a): a for a in self._by_mime.values()}.values())


def default_registry(settings: Settings | None = None) -> AnalyzerRegistry:
    from dataflux_pipeline.analyzers.audio.analyzer import AudioAnalyzer
    from dataflux_pipeline.analyzers.document import DocumentAnalyzer
    from dataflux_pipeline.analyzers.image import ImageAnalyzer
    from dataflux_pipeline.analyzers.video.analyzer import VideoAnalyzer

    settings = settings or get_settings()
    registry = AnalyzerRegistry(settings)
    for cls in (VideoAnalyzer, AudioAnalyzer, ImageAnalyzer, DocumentAnalyzer):
        registry.register(cls(settings))
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            registry.register(ep.load()(settings))
        except Exception as exc:  # a broken plugin must not take the built-ins down
            log.warning("analyzer plugin %s failed to load: %s", ep.name, exc)
    return registry
