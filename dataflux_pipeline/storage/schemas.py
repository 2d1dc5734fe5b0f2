"""Table schemas, defined once: every writer and reader of the catalog uses these."""

from __future__ import annotations

import pyarrow as pa

_VERSIONED = [pa.field("analyzer", pa.string()), pa.field("analyzer_version", pa.string())]

# One row per file version a batch took (its intake record); the live catalog says which
# of them are current.
ASSETS = pa.schema(
    [
        pa.field("asset_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("path", pa.string(), nullable=False),
        pa.field("uri", pa.string()),
        pa.field("file_name", pa.string()),
        pa.field("size_bytes", pa.int64()),
        pa.field("mtime_ns", pa.int64()),
        pa.field("mime_type", pa.string()),
        pa.field("media_type", pa.string()),
        pa.field("sha256", pa.string()),
        pa.field("xxh128", pa.string()),
        pa.field("store_path", pa.string()),
        pa.field("duration_s", pa.float64()),
        pa.field("sidecars", pa.string()),
        pa.field("outcome", pa.string()),
        pa.field("error", pa.string()),
        pa.field("warnings", pa.list_(pa.string())),
        pa.field("taken_at", pa.timestamp("us", tz="UTC")),
    ]
)

# One row per content a partition analyzed: what came of it and with which versions.
ANALYSES = pa.schema(
    [
        pa.field("asset_id", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("error", pa.string()),
        pa.field("duration_s", pa.float64()),
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
        pa.field("metadata", pa.string()),
        pa.field("analyzers", pa.string()),
        pa.field("seconds", pa.float64()),
        pa.field("analyzed_at", pa.timestamp("us", tz="UTC")),
    ]
)

SEGMENTS = pa.schema(
    [
        pa.field("segment_id", pa.string(), nullable=False),
        pa.field("asset_id", pa.string(), nullable=False),
        pa.field("parent_id", pa.string()),
        pa.field("kind", pa.string()),
        pa.field("index", pa.int32()),
        pa.field("start_s", pa.float64()),
        pa.field("end_s", pa.float64()),
        pa.field("page", pa.int32()),
        pa.field("text", pa.string()),
        pa.field("thumbnail", pa.string()),
        *_VERSIONED,
    ]
)

FEATURES_VIDEO = pa.schema(
    [
        pa.field("segment_id", pa.string(), nullable=False),
        pa.field("asset_id", pa.string(), nullable=False),
        pa.field("duration_s", pa.float64()),
        pa.field("brightness", pa.float32()),
        pa.field("contrast", pa.float32()),
        pa.field("colourfulness", pa.float32()),
        pa.field("motion", pa.float32()),
        pa.field("sharpness", pa.float32()),
        pa.field("dominant_colours", pa.list_(pa.string())),
        *_VERSIONED,
    ]
)

FEATURES_AUDIO = pa.schema(
    [
        pa.field("segment_id", pa.string(), nullable=False),
        pa.field("asset_id", pa.string(), nullable=False),
        pa.field("duration_s", pa.float64()),
        pa.field("tempo_bpm", pa.float32()),
        pa.field("key", pa.string()),
        pa.field("mode", pa.string()),
        pa.field("loudness_db", pa.float32()),
        pa.field("peak_db", pa.float32()),
        pa.field("spectral_centroid_hz", pa.float32()),
        pa.field("zero_crossing_rate", pa.float32()),
        pa.field("mfcc_mean", pa.list_(pa.float32())),
        pa.field("lufs", pa.float32()),
        pa.field("spectral_bandwidth_hz", pa.float32()),
        pa.field("spectral_rolloff_hz", pa.float32()),
        pa.field("mfcc_std", pa.list_(pa.float32())),
        pa.field("chroma_mean", pa.list_(pa.float32())),
        pa.field("chroma_std", pa.list_(pa.float32())),
        pa.field("audio_class", pa.string()),
        pa.field("speech_score", pa.float32()),
        *_VERSIONED,
    ]
)

FEATURES_IMAGE = pa.schema(
    [
        pa.field("segment_id", pa.string(), nullable=False),
        pa.field("asset_id", pa.string(), nullable=False),
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
        pa.field("exif", pa.string()),
        pa.field("dominant_colours", pa.list_(pa.string())),
        pa.field("sharpness", pa.float32()),
        pa.field("phash", pa.string()),
        *_VERSIONED,
    ]
)

FEATURES_DOCUMENT = pa.schema(
    [
        pa.field("segment_id", pa.string(), nullable=False),
        pa.field("asset_id", pa.string(), nullable=False),
        pa.field("page", pa.int32()),
        pa.field("char_count", pa.int32()),
        pa.field("word_count", pa.int32()),
        pa.field("needs_ocr", pa.bool_()),
        pa.field("language", pa.string()),
        *_VERSIONED,
    ]
)

# What the vision enrichers saw in a picture (an image, keyframe or scanned page): one row
# per picture and enricher, so each row names the model that made it. `tags` rows carry
# labels and scores, `safety` rows the NSFW probability, `faces` rows the face count.
FEATURES_VISION = pa.schema(
    [
        pa.field("segment_id", pa.string(), nullable=False),
        pa.field("asset_id", pa.string(), nullable=False),
        pa.field("tags", pa.list_(pa.string())),
        pa.field("tag_scores", pa.list_(pa.float32())),
        pa.field("nsfw_score", pa.float32()),
        pa.field("faces", pa.int32()),
        *_VERSIONED,
    ]
)

# Boxes inside a picture: a face (one per `face` segment) or a line of an `ocr` segment
# (`region` numbers the lines). Corners are fractions of the picture's width and height.
FEATURES_REGION = pa.schema(
    [
        pa.field("segment_id", pa.string(), nullable=False),
        pa.field("asset_id", pa.string(), nullable=False),
        pa.field("parent_id", pa.string()),
        pa.field("kind", pa.string()),
        pa.field("region", pa.int32()),
        pa.field("text", pa.string()),
        pa.field("confidence", pa.float32()),
        pa.field("x0", pa.float32()),
        pa.field("y0", pa.float32()),
        pa.field("x1", pa.float32()),
        pa.field("y1", pa.float32()),
        *_VERSIONED,
    ]
)

EMBEDDINGS = pa.schema(
    [
        pa.field("segment_id", pa.string(), nullable=False),
        pa.field("asset_id", pa.string(), nullable=False),
        pa.field("space", pa.string(), nullable=False),
        pa.field("model", pa.string()),
        pa.field("model_version", pa.string()),
        pa.field("dim", pa.int32()),
        pa.field("vector", pa.list_(pa.float32())),
    ]
)

RELATIONSHIPS = pa.schema(
    [
        pa.field("source_id", pa.string(), nullable=False),
        pa.field("target_id", pa.string()),
        pa.field("target_uri", pa.string()),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("distance", pa.float32()),
    ]
)

# The LanceDB index: one table per embedding space, a segment's searchable fields beside
# its vector (its size differs per space, see index_schema).
INDEX_COLUMNS = [
    pa.field("segment_id", pa.string(), nullable=False),
    pa.field("asset_id", pa.string(), nullable=False),
    pa.field("media_type", pa.string()),
    pa.field("kind", pa.string()),
    pa.field("start_s", pa.float64()),
    pa.field("end_s", pa.float64()),
    pa.field("page", pa.int32()),
    pa.field("text", pa.string()),
    pa.field("thumbnail", pa.string()),
    pa.field("file_name", pa.string()),
    pa.field("model", pa.string()),
    pa.field("model_version", pa.string()),
    # who may read the row: `public`, or owners' and sharees' labels (`u:<id>`, `g:<id>`)
    pa.field("readers", pa.list_(pa.string())),
]


def index_schema(dim: int) -> pa.Schema:
    return pa.schema([*INDEX_COLUMNS, pa.field("vector", pa.list_(pa.float32(), dim))])


TABLES: dict[str, pa.Schema] = {
    "assets": ASSETS,
    "analyses": ANALYSES,
    "segments": SEGMENTS,
    "features_video": FEATURES_VIDEO,
    "features_audio": FEATURES_AUDIO,
    "features_image": FEATURES_IMAGE,
    "features_document": FEATURES_DOCUMENT,
    "features_vision": FEATURES_VISION,
    "features_region": FEATURES_REGION,
    "embeddings": EMBEDDINGS,
    "descriptors": EMBEDDINGS,  # model-free vectors, written by the analysis step
    "relationships": RELATIONSHIPS,
}

FEATURE_TABLES = (
    "features_video",
    "features_audio",
    "features_image",
    "features_document",
    "features_vision",
    "features_region",
)
