"""Dagster resources: thin, configurable handles on the plain-Python storage and models."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import dagster as dg
from dagster_aws.s3 import S3Resource

from dataflux_pipeline.analyzers import AnalyzerRegistry, default_registry
from dataflux_pipeline.intake.batches import Ledger
from dataflux_pipeline.settings import Settings
from dataflux_pipeline.storage.index import IndexWriter
from dataflux_pipeline.storage.objects import Storage, is_remote, s3_options
from dataflux_pipeline.storage.tables import TableStore

log = logging.getLogger(__name__)
_CLIP_WARNED: list[bool] = []


class CatalogStore(dg.ConfigurableResource):
    """Where the catalog lives: landing folder, object store, tables, index, manifests."""

    home: str
    storage_uri: str | None = None
    landing_dir: str | None = None
    landing_uri: str | None = None
    batch_size: int = 64
    cuda_batch_size: int = 256

    def _batch(self) -> int:
        """Larger batches where the device has the memory and parallelism for them."""
        from dataflux_pipeline.models.device import pick_device

        return self.cuda_batch_size if pick_device(self.device).type == "cuda" else self.batch_size

    settle_seconds: float = 2.0
    max_file_bytes: int = 20 * 1024**3
    max_duration_s: float = 6 * 3600.0

    @property
    def settings(self) -> Settings:
        return Settings(
            home=Path(self.home),
            storage_uri=self.storage_uri,
            landing_dir=Path(self.landing_dir) if self.landing_dir else None,
            landing_uri=self.landing_uri,
            batch_size=self.batch_size,
            settle_seconds=self.settle_seconds,
            max_file_bytes=self.max_file_bytes,
            max_duration_s=self.max_duration_s,
        )

    @property
    def landing(self) -> Path:
        return self.settings.landing

    @property
    def store_root(self) -> Path:
        return self.settings.store

    @property
    def tables(self) -> TableStore:
        return TableStore(self.settings.tables)

    @property
    def ledger(self) -> Ledger:
        return Ledger(self.settings.batches)

    def remote_store(self) -> Storage | None:
        """The S3 object store mirrored from the local staging store, if configured."""
        uri = self.settings.store_uri
        return Storage(uri) if is_remote(uri) else None

    def index(self) -> IndexWriter:
        return IndexWriter(self.settings.lancedb)

    def registry(self) -> AnalyzerRegistry:
        return default_registry(self.settings)


class EmbeddingModels(dg.ConfigurableResource):
    """Text and CLIP models, loaded once per run process and shared by every step in it."""

    text_model: str
    clip_model: str | None = None
    device: str = "auto"
    batch_size: int = 64
    cuda_batch_size: int = 256

    def _batch(self) -> int:
        """Larger batches where the device has the memory and parallelism for them."""
        from dataflux_pipeline.models.device import pick_device

        return self.cuda_batch_size if pick_device(self.device).type == "cuda" else self.batch_size

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


def resources_for(settings: Settings, deployment: str = "local") -> dict[str, object]:
    """The one place that picks resources per deployment."""
    catalog = CatalogStore(
        home=str(settings.home),
        storage_uri=settings.storage_uri,
        landing_dir=str(settings.landing_dir) if settings.landing_dir else None,
        landing_uri=settings.landing_uri,
        batch_size=settings.batch_size,
        settle_seconds=settings.settle_seconds,
        max_file_bytes=settings.max_file_bytes,
        max_duration_s=settings.max_duration_s,
    )
    models = EmbeddingModels(
        text_model=settings.text_model,
        clip_model=settings.clip_model,
        device=settings.device,
        batch_size=settings.embed_batch_size,
        cuda_batch_size=settings.cuda_batch_size,
    )
    s3 = S3Resource(
        endpoint_url=s3_options().get("endpoint_url"),
        region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
    )
    by_deployment = {
        "local": {"catalog": catalog, "models": models, "s3": s3},
        "production": {"catalog": catalog, "models": models, "s3": s3},
    }
    return by_deployment[deployment]
