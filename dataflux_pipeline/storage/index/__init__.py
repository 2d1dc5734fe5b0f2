"""The LanceDB search index: one table per embedding space, rows keyed by segment_id.
The pipeline writes through IndexWriter, the service reads through IndexReader."""

from dataflux_pipeline.storage.index.base import (
    NAMES_SPACE,
    RANK_COLUMNS,
    RESULT_COLUMNS,
    IndexTuning,
    Probe,
    quote,
    readable_by,
    table_name,
)
from dataflux_pipeline.storage.index.reader import IndexReader
from dataflux_pipeline.storage.index.writer import IndexWriter

__all__ = [
    "NAMES_SPACE",
    "RANK_COLUMNS",
    "RESULT_COLUMNS",
    "IndexReader",
    "IndexTuning",
    "IndexWriter",
    "Probe",
    "quote",
    "readable_by",
    "table_name",
]
