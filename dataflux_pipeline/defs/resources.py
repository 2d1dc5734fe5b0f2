"""Dagster resources: thin, configurable handles on the plain-Python layers below.

Every knob a step uses is a field of one of these, so the launchpad shows what runs; a
resource builds its settings from its own fields and code defaults, never from the
environment of the process that runs the step. `resources_for` is the one place that
picks them per deployment."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_aws.s3 import S3Resource
from pydantic import Field
from pydantic_settings import BaseSettings

from dataflux_pipeline.analyzers import AnalyzerRegistry, default_registry
from dataflux_pipeline.catalog import Catalog
from dataflux_pipeline.intake.batches import Ledger
from dataflux_pipeline.settings import Settings, SourceConfig
from dataflux_pipeline.storage.index import IndexTuning, IndexWriter
from dataflux_pipeline.storage.objects import Storage, is_remote
from dataflux_pipeline.storage.tables import TableStore

log = logging.getLogger(__name__)
_CLIP_WARNED: list[bool] = []


class FixedSettings(Settings):
    """Settings from given values and code defaults only, never the environment."""

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings, *_args, **_sources
    ):
        return (init_settings,)


class _Knobs(dg.ConfigurableResource):
    def settings(self) -> Settings:
        values = {k: v for k, v in self.model_dump().items() if v is not None}
        return FixedSettings(**values)


class StorageResource(_Knobs):
    """Where bytes and rows live: the object store (with its S3 mirror), the Parquet
    tables, the LanceDB index and the batch manifests."""

    home: str = Field(description="DATAFLUX_HOME: store, tables, index, manifests.")
    storage_uri: str | None = Field(None, description="s3://... for store, tables, index.")
    ann_index_type: str = "IVF_HNSW_SQ"
    ann_index_min_rows: int = 100_000
    fts_index_min_rows: int = 1
    ann_nprobes: int = 10
    ann_refine_factor: int = 0
    ann_ef: int = 600
    index_keep_versions_s: float = 3600.0

    @property
    def store_root(self) -> Path:
        return self.settings().store

    @property
    def tables(self) -> TableStore:
        return TableStore(self.settings().tables)

    @property
    def ledger(self) -> Ledger:
        return Ledger(self.settings().batches)

    def objects(self) -> Storage:
        return Storage(self.store_root)

    def remote_store(self) -> Storage | None:
        """The S3 object store mirrored from the local staging store, if configured."""
        uri = self.settings().store_uri
        return Storage(uri) if is_remote(uri) else None

    def index(self) -> IndexWriter:
        s = self.settings()
        return IndexWriter(s.lancedb, tuning=IndexTuning.from_settings(s))


class CatalogResource(_Knobs):
    """The live catalog (relational: SQLite locally, PostgreSQL in production)."""

    database_url: str = Field(description="SQLAlchemy URL (a secret in production).")
    retention_s: float = Field(0.0, description="Keep removed content this long.")

    def catalog(self) -> Catalog:
        return Catalog.open(self.database_url)


class SourceSpec(dg.Config):
    """A watched folder or S3 prefix (see settings.SourceConfig)."""

    name: str
    uri: str
    copy_files: bool = False
    owner: str | None = None
    group: str | None = None
    visibility: str | None = None
    settle_seconds: float | None = None


class SourcesResource(_Knobs):
    """The watched sources and the rules for taking files from them."""

    home: str
    landing_dir: str | None = None
    landing_uri: str | None = None
    copy_originals: bool = False
    landing_owner: str | None = None
    landing_group: str | None = None
    landing_visibility: str | None = None
    sources: list[SourceSpec] = Field(default_factory=list)
    batch_size: int = 64
    settle_seconds: float = 2.0
    max_file_bytes: int = 20 * 1024**3
    max_duration_s: float = 6 * 3600.0

    def settings(self) -> Settings:
        values = self.model_dump(exclude={"sources"})
        values = {k: v for k, v in values.items() if v is not None}
        sources = [SourceConfig(**s.model_dump()) for s in self.sources]
        return FixedSettings(**values, sources=sources)

    def watched(self) -> list[SourceConfig]:
        return self.settings().watched_sources


class AnalyzersResource(_Knobs):
    """The analyzer plugins and their knobs (window lengths, shot limits, speech, and each
    vision and speech model on or off with its thresholds)."""

    audio_sample_rate: int = 22050
    audio_window_s: float = 10.0
    video_analysis_width: int = 128
    video_chunk_frames: int = 256
    min_shot_s: float = 0.4
    max_shot_s: float = 30.0
    thumbnail_width: int = 320
    max_image_pixels: int = 80_000_000
    doc_chunk_chars: int = 800
    doc_chunk_overlap_chars: int = 100
    near_duplicate_max_distance: int = 8
    whisper_model: str | None = None
    whisper_batch_size: int = 8
    device: str = "auto"
    home: str = "data"  # where the packaged Whisper weights are assembled
    ocr: bool = True
    ocr_min_confidence: float = 0.5
    ocr_min_chars: int = 3
    image_tags: bool = True
    tag_top_k: int = 5
    tag_min_score: float = 0.25
    face_detection: bool = True
    face_recognition: bool = False
    face_match_threshold: float = 0.6
    face_min_confidence: float = 0.9
    face_min_px: int = 20
    safety: bool = True
    vad: bool = True
    vad_threshold: float = 0.5
    proxies: bool = True
    proxy_max_height: int = 720
    proxy_video_kbps: int = 2500
    proxy_audio_kbps: int = 128

    def registry(self) -> AnalyzerRegistry:
        return default_registry(self.settings())


class EmbeddingModels(_Knobs):
    """Text and CLIP models, loaded once per run process and shared by every step in it."""

    text_model: str
    clip_model: str | None = None
    device: str = "auto"
    embed_batch_size: int = 64
    cuda_batch_size: int = 256

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Start loading the text model while the run's first steps work, so that the
        embeddings step finds it ready (loading takes seconds; a file's whole run a few)."""
        threading.Thread(target=self._warm, name="warm-text-model", daemon=True).start()

    def _warm(self) -> None:
        try:
            self.text()
        except Exception as exc:  # the embeddings step reports it, with a retry policy
            log.info("text model not preloaded: %s", exc)

    def _batch(self) -> int:
        """Larger batches where the device has the memory and parallelism for them."""
        from dataflux_pipeline.models.device import pick_device

        cuda = pick_device(self.device).type == "cuda"
        return self.cuda_batch_size if cuda else self.embed_batch_size

    def text(self):
        from dataflux_pipeline.models.text import load_text_embedder

        return load_text_embedder(self.text_model, self.device, self._batch())

    def clip(self):
        """The CLIP embedder, or None (with one log line) when no model folder is set."""
        from dataflux_pipeline.models.clip import load_clip_embedder

        if not self.clip_model:
            if not _CLIP_WARNED:
                log.info("DATAFLUX_CLIP_MODEL is not set: image/keyframe embeddings are skipped")
                _CLIP_WARNED.append(True)
            return None
        return load_clip_embedder(self.clip_model, self.device, max(1, self._batch() // 2))


def _fields(resource: type[dg.ConfigurableResource], settings: Settings) -> dict[str, Any]:
    """The resource's fields, valued from `settings` (the process that loads definitions)."""
    out = {}
    for name in resource.model_fields:
        value = getattr(settings, name)
        out[name] = str(value) if isinstance(value, Path) else value
    return out


def resources_for(settings: Settings, deployment: str | None = None) -> dict[str, object]:
    """The one place that picks resources per deployment. Locally: folders, SQLite and
    settings as read now. In production: S3 and PostgreSQL, whose addresses and secrets
    are read where each step runs (dg.EnvVar), so they never sit in run config."""
    deployment = deployment or settings.deployment
    sources = _fields(SourcesResource, settings) | {
        "sources": [SourceSpec(**s.model_dump()) for s in settings.sources]
    }
    common = {
        "sources": SourcesResource(**sources),
        "analyzers": AnalyzersResource(**_fields(AnalyzersResource, settings)),
        "models": EmbeddingModels(**_fields(EmbeddingModels, settings)),
    }
    if deployment == "production":
        storage = _fields(StorageResource, settings) | {
            "storage_uri": dg.EnvVar("DATAFLUX_STORAGE_URI")
        }
        return common | {
            "storage": StorageResource(**storage),
            "catalog": CatalogResource(
                database_url=dg.EnvVar("DATAFLUX_DATABASE_URL"), retention_s=settings.retention_s
            ),
            # boto3's own chain (pod identity, AWS_* variables): no keys in run config
            "s3": S3Resource(),
        }
    from dataflux_pipeline.storage.objects import s3_options

    region = s3_options().get("client_kwargs", {}).get("region_name")
    return common | {
        "storage": StorageResource(**_fields(StorageResource, settings)),
        "catalog": CatalogResource(
            database_url=settings.database, retention_s=settings.retention_s
        ),
        "s3": S3Resource(endpoint_url=s3_options().get("endpoint_url"), region_name=region),
    }
