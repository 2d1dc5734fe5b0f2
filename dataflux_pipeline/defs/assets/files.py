"""Local paths for the files of a source during one step: the folder itself, or copies
of S3 objects fetched on demand and dropped when the step ends (a vanished object stays
missing, and the intake records it as such)."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from dataflux_pipeline.intake.identity import os_path
from dataflux_pipeline.intake.records import Source
from dataflux_pipeline.settings import SourceConfig
from dataflux_pipeline.storage.objects import Storage


class SourceFiles:
    def __init__(self, config: SourceConfig, staging: Path) -> None:
        self.config = config
        self.remote = Storage(config.uri) if config.remote else None
        self.root = staging / config.name if self.remote else Path(config.uri)

    def local(self, rel: str) -> Path:
        path = self.root / (rel if self.remote is not None else os_path(rel))
        if self.remote is not None and not path.exists():
            with contextlib.suppress(FileNotFoundError, ValueError):
                self.remote.get_file(rel, path)
        return path

    def fetch(self, rels: list[str]) -> None:
        for rel in rels:
            self.local(rel)

    @property
    def source(self) -> Source:
        return Source(
            name=self.config.name,
            root=self.root,
            base_uri=self.config.uri if self.remote else None,
            copy_files=self.config.copy_files,
        )

    def close(self) -> None:
        if self.remote is not None:
            shutil.rmtree(self.root, ignore_errors=True)


class Sources:
    """Every watched source of a step, staged under one folder."""

    def __init__(self, configs: list[SourceConfig], staging: Path) -> None:
        self.staging = staging
        self.by_name = {c.name: SourceFiles(c, staging) for c in configs}

    def __getitem__(self, name: str) -> SourceFiles:
        return self.by_name[name]

    def __contains__(self, name: str) -> bool:
        return name in self.by_name

    def __enter__(self) -> Sources:
        return self

    def __exit__(self, *_exc) -> None:
        for files in self.by_name.values():
            files.close()
        shutil.rmtree(self.staging, ignore_errors=True)
