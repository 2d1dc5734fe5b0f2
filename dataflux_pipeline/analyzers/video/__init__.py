"""Video: shot boundaries and keyframes from a streamed, downscaled decode."""

from dataflux_pipeline.analyzers.video.analyzer import VideoAnalyzer

__all__ = ["VideoAnalyzer"]
