"""POST /search, /similar and /search/by-file."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, HTTPException, Response, UploadFile
from pydantic import ValidationError

from dataflux_pipeline.analyzers import AnalysisError
from dataflux_pipeline.serving import narrow
from dataflux_pipeline.serving import similar as sim
from dataflux_pipeline.serving.deps import (
    AUTH_RESPONSES,
    SEGMENT_ID,
    Svc,
    Who,
    check_id,
    one_file,
    require,
    resolve_asset,
)
from dataflux_pipeline.serving.schemas import (
    MediaType,
    SearchRequest,
    SearchResponse,
    SimilarOptions,
    SimilarRequest,
    SimilarResponse,
)
from dataflux_pipeline.serving.uploads import UploadError, check, safe_name, stage

log = logging.getLogger(__name__)
router = APIRouter(
    tags=["search"], dependencies=[Depends(require("search"))], responses=AUTH_RESPONSES
)


@router.post("/search", response_model=SearchResponse)
def search(req: SearchRequest, svc: Svc, principal: Who) -> Response:
    """Text query over every segment the caller may read; hits grouped per asset, best
    segments first; `collection_id` searches within one collection."""
    try:
        within = svc.searcher.scope(req, principal)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from exc
    within = narrow.within(svc.catalog, req.filters, principal, within)  # size, owner
    response = svc.searcher.search(req, principal, within)
    response = svc.moments.attach(response)
    if req.offset == 0:  # a search, not a further page of one
        svc.queries.record(req.query, response.total, response.took_ms, req.mode)
    # Serialized once here: FastAPI would validate the model against response_model again.
    return Response(response.model_dump_json(), media_type="application/json")


@router.post(
    "/similar",
    response_model=SimilarResponse,
    responses={404: {"description": "item not indexed"}, 422: {"description": "bad space"}},
)
def similar(req: SimilarRequest, svc: Svc, principal: Who) -> SimilarResponse:
    """Items near an indexed asset or segment, in one embedding space or all it has."""
    if req.asset_id:
        req = req.model_copy(update={"asset_id": resolve_asset(svc, req.asset_id, principal)})
    if req.segment_id:
        check_id(SEGMENT_ID, req.segment_id, "segment id")
    if req.space is not None and req.space not in svc.index.spaces():
        raise HTTPException(422, f"no embedding space {req.space!r}; have {svc.index.spaces()}")
    try:
        if req.segment_id and not svc.catalog.visible(req.segment_id.split(":")[0], principal):
            raise sim.NotFound(f"segment {req.segment_id} has no vectors in the index")
        return sim.similar(svc.searcher, req, principal)
    except sim.NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except sim.BadRequest as exc:
        raise HTTPException(422, str(exc)) from exc


@router.post(
    "/search/by-file",
    response_model=SimilarResponse,
    responses={413: {"description": "too large"}, 415: {"description": "unsupported type"}},
)
def search_by_file(
    svc: Svc,
    principal: Who,
    file: Annotated[UploadFile, File(description="A short image, audio clip or document.")],
    _one: Annotated[None, Depends(one_file)],
    limit: Annotated[int, Form()] = 10,
    space: Annotated[str | None, Form()] = None,
    threshold: Annotated[float | None, Form(allow_inf_nan=False)] = None,
    media_types: Annotated[list[MediaType] | None, Form()] = None,
) -> SimilarResponse:
    """Analyze the file with the pipeline's analyzers and models, then search every space
    its vectors fall in (visual and audio descriptors, text, CLIP). Nothing is stored."""
    max_bytes = svc.settings.query_file_max_bytes
    try:
        options = SimilarOptions(
            limit=limit, space=space, threshold=threshold, media_types=media_types
        )
    except ValidationError as exc:
        errors = [{k: e[k] for k in ("loc", "msg", "type")} for e in exc.errors()]
        raise HTTPException(422, errors) from exc
    with tempfile.TemporaryDirectory(prefix="dataflux-byfile-") as tmp:
        try:
            staged = stage(file.file, safe_name(file.filename), Path(tmp), max_bytes)
            check(staged, svc.registry.media_type)
            named = staged.path.with_name(staged.name)
            staged.path.rename(named)
            return sim.similar_to_file(svc.searcher, named, staged.mime_type, options, principal)
        except UploadError as exc:
            raise HTTPException(exc.status, str(exc)) from exc
        except AnalysisError as exc:
            reason = str(exc).replace(tmp, "")  # no server paths in what a client reads
            raise HTTPException(422, f"could not analyze the file: {reason}") from exc
        except sim.BadRequest as exc:
            raise HTTPException(422, str(exc)) from exc
        except (OSError, ValueError, RuntimeError) as exc:  # a decoder choking on odd bytes
            log.warning("by-file analysis of %s failed: %r", file.filename, exc)
            reason = f"{type(exc).__name__}: {exc}".replace(tmp, "")
            raise HTTPException(422, f"could not analyze the file: {reason}") from exc
