"""What every route shares: settings, the index and catalog readers, the searcher."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request

from dataflux_pipeline.serving.search import Searcher
from dataflux_pipeline.serving.views import Catalog
from dataflux_pipeline.settings import Settings

ASSET_ID = re.compile(r"^(?:[0-9a-f]{64}|unreadable-[0-9a-f]{48})$")
SEGMENT_ID = re.compile(r"^(?:[0-9a-f]{64}|unreadable-[0-9a-f]{48}):[a-z_]{1,32}:\d{1,9}$")


@dataclass
class Service:
    settings: Settings
    searcher: Searcher
    metrics: Any = None
    thumbnails: Path = field(init=False)

    def __post_init__(self) -> None:
        self.thumbnails = (self.settings.store / "thumbnails").resolve()

    @property
    def index(self):
        return self.searcher.index

    @property
    def catalog(self) -> Catalog:
        return self.searcher.catalog

    @cached_property
    def registry(self):
        from dataflux_pipeline.analyzers import default_registry

        return default_registry(self.settings)


def service(request: Request) -> Service:
    return request.app.state.service


def check_id(pattern: re.Pattern, value: str, what: str) -> None:
    if not pattern.match(value):
        raise HTTPException(422, f"{what} {value[:80]!r} is not a valid id")
