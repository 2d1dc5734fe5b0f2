"""DataFlux: media files in, searchable catalog out."""

__version__ = "0.1.0"
