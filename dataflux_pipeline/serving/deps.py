"""What every route shares, in one place: the service state, who is asking (scopes), id
checks and prefixes, and the request-size guard."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from dataflux_pipeline.catalog import Catalog
from dataflux_pipeline.catalog.store import AmbiguousId
from dataflux_pipeline.serving.auth import require
from dataflux_pipeline.serving.search import Searcher
from dataflux_pipeline.serving.views import CatalogView
from dataflux_pipeline.settings import Settings

__all__ = ["ASSET_ID", "SEGMENT_ID", "Service", "Svc", "check_id", "require", "resolve_asset"]

ASSET_ID = re.compile(r"(?:[0-9a-f]{64}|unreadable-[0-9a-f]{48})")
ASSET_REF = re.compile(r"[0-9a-f]{8,64}|unreadable-[0-9a-f]{48}")
SEGMENT_ID = re.compile(r"(?:[0-9a-f]{64}|unreadable-[0-9a-f]{48}):[a-z_]{1,32}:\d{1,9}")
MULTIPART_OVERHEAD = 64 * 1024  # form boundaries and part headers around a file


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
    def catalog(self) -> CatalogView:
        return self.searcher.catalog

    @property
    def live(self) -> Catalog:
        return self.searcher.catalog.catalog

    @cached_property
    def registry(self):
        from dataflux_pipeline.analyzers import default_registry

        return default_registry(self.settings)


def service(request: Request) -> Service:
    return request.app.state.service


Svc = Annotated[Service, Depends(service)]


def check_id(pattern: re.Pattern, value: str, what: str) -> None:
    if not pattern.fullmatch(value):
        raise HTTPException(422, f"{what} {value[:80]!r} is not a valid id")


def resolve_asset(svc: Service, ident: str) -> str:
    """A full asset id, or a unique prefix of at least 8 hex characters (as in git);
    409 lists the candidates of an ambiguous prefix, 404 when nothing matches."""
    if not ASSET_REF.fullmatch(ident):
        raise HTTPException(
            422, f"asset id {ident[:80]!r} is not an id or a prefix of 8+ hex characters"
        )
    try:
        found = svc.live.resolve(ident)
    except AmbiguousId as exc:
        raise HTTPException(409, {"message": str(exc), "candidates": exc.candidates}) from exc
    if found is None or not svc.catalog.live(found):
        raise HTTPException(404, f"asset {ident} not found")
    return found


async def one_file(request: Request) -> None:
    """A form must carry one `file` part: two would leave the server choosing silently."""
    form = await request.form()
    if len(form.getlist("file")) != 1:
        raise HTTPException(422, "send exactly one `file` part per request")


def body_within(request: Request, limit: int) -> None:
    """413 before reading a body whose declared length is over the limit."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD:
        raise HTTPException(413, f"file is over the limit of {limit} bytes")
