"""Audio: a streamed scan into windows with loudness, timbre, tempo, key and speech."""

from dataflux_pipeline.analyzers.audio.analyzer import AudioAnalyzer

__all__ = ["AudioAnalyzer"]
