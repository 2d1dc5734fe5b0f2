"""More like this: by an indexed asset or segment, or by an uploaded file analyzed with the
pipeline's own analyzers and models, in every embedding space the index has."""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from dataflux_pipeline.accounts.principals import Principal
from dataflux_pipeline.models.embed import embed_segments
from dataflux_pipeline.serving.fusion import Leg, fuse
from dataflux_pipeline.serving.schemas import SimilarOptions, SimilarRequest, SimilarResponse
from dataflux_pipeline.serving.search import EmptyResult, Searcher
from dataflux_pipeline.storage.index import NAMES_SPACE, RANK_COLUMNS, Probe, quote

QUERIES_PER_SPACE = 8  # an uploaded file's segments searched per space (windows, keyframes)


class NotFound(LookupError):
    pass


class BadRequest(ValueError):
    pass


def _unit(vectors: list) -> np.ndarray:
    mean = np.mean(np.asarray(vectors, np.float32), axis=0)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm else mean


def item_vectors(searcher: Searcher, req: SimilarRequest) -> tuple[dict[str, np.ndarray], int]:
    """The item's vector per space (the segment's own, or the mean over an asset's
    segments) and how many index rows the item has in its largest space."""
    index = searcher.index
    if req.segment_id:
        where, limit = f"segment_id = {quote([req.segment_id])}", 1
    else:
        where, limit = f"asset_id = {quote([req.asset_id])}", 64
    found, most = {}, 0
    for space in index.spaces():
        if space == NAMES_SPACE:  # names are words, not a vector space
            continue
        rows = index.vectors(space, where, limit)
        if rows:
            found[space] = _unit([r["vector"] for r in rows])
            most = max(
                most, index.table(space).count_rows(where) if len(rows) == limit else len(rows)
            )
    return found, most


def search_spaces(
    searcher: Searcher,
    queries: dict[str, list[np.ndarray]],
    req: SimilarOptions,
    principal: Principal,
    skip: Callable[[dict], bool] | None = None,
    extra: int = 0,
) -> tuple[list[Leg], list[str]]:
    """One probe per query vector, all in one trip; the item itself is dropped here rather
    than by a `!=` prefilter, which would make LanceDB test every row."""
    try:
        where, allowed = searcher.where(req.media_types, None, principal)
    except EmptyResult:
        return [], []
    k = max(50, req.limit * 5) + extra
    probes = []
    for space, vectors in queries.items():
        dim = searcher.index.info(space)["dim"]
        probes += [
            Probe(space, k, vector=v, where=where, columns=RANK_COLUMNS, row_id=True)
            for v in vectors[:QUERIES_PER_SPACE]
            if len(v) == dim
        ]
    legs = []
    for probe, rows in zip(probes, searcher.index.run(probes), strict=True):
        rows = [r for r in rows if not (skip and skip(r))]
        if req.threshold is not None:
            rows = [r for r in rows if 1.0 - r["_distance"] >= req.threshold]
        live = searcher.catalog.snapshot().position
        rows = [
            r
            for r in rows
            if r["asset_id"] in live and (allowed is None or r["asset_id"] in allowed)
        ]
        legs.append(Leg("vector", probe.space, rows))
    return legs, sorted(queries)


def respond(
    searcher: Searcher, legs: list[Leg], spaces: list[str], req: SimilarOptions, source: dict, t0
) -> SimilarResponse:
    groups = fuse(legs, searcher.settings.rrf_k)
    results = searcher.hits(groups[: req.limit], req.include_segments, req.segments_per_asset)
    return SimilarResponse(
        source=source,
        spaces=spaces,
        results=results,
        total=len(groups),
        took_ms=round((time.perf_counter() - t0) * 1000, 3),
    )


def similar(searcher: Searcher, req: SimilarRequest, principal: Principal) -> SimilarResponse:
    t0 = time.perf_counter()
    vectors, own_rows = item_vectors(searcher, req)
    what = f"segment {req.segment_id}" if req.segment_id else f"asset {req.asset_id}"
    if not vectors:
        raise NotFound(f"{what} has no vectors in the index")
    if req.space is not None:
        if req.space not in vectors:
            raise BadRequest(
                f"{what} has no vector in space {req.space!r}; it has {sorted(vectors)}"
            )
        vectors = {req.space: vectors[req.space]}
    if req.segment_id:
        skip = lambda row: row["segment_id"] == req.segment_id  # noqa: E731
    else:
        skip = lambda row: row["asset_id"] == req.asset_id  # noqa: E731 (read as a rule)
    queries = {s: [v] for s, v in vectors.items()}
    legs, spaces = search_spaces(searcher, queries, req, principal, skip, extra=own_rows)
    source = {"asset_id": req.asset_id, "segment_id": req.segment_id}
    return respond(searcher, legs, spaces, req, source, t0)


def file_vectors(searcher: Searcher, path: Path, mime: str) -> tuple[dict[str, list], dict]:
    """Analyze a file like the pipeline does and embed it like the embeddings step does."""
    from dataflux_pipeline.analyzers import MediaItem, analyze_file

    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with tempfile.TemporaryDirectory(prefix="dataflux-query-") as store:
        item = MediaItem(path=path, asset_id=digest, mime_type=mime, store_root=Path(store))
        result = analyze_file(item, searcher.query_registry)
        queries: dict[str, list] = {}
        for v in result.vectors:
            queries.setdefault(v.space, []).append(np.asarray(v.vector, np.float32))
        segments = [s.model_dump() for s in result.segments]
        spaces = embed_segments(
            segments, searcher.text_model(), searcher.clip_model(), Path(store), QUERIES_PER_SPACE
        )
        for space, (_, vectors, _) in spaces.items():
            queries[space] = list(vectors)
    info = {"sha256": digest, "mime_type": mime, "segments": len(result.segments)}
    return queries, info


def similar_to_file(
    searcher: Searcher, path: Path, mime: str, req: SimilarOptions, principal: Principal
) -> SimilarResponse:
    t0 = time.perf_counter()
    queries, info = file_vectors(searcher, path, mime)
    present = set(searcher.index.spaces())
    queries = {s: v for s, v in queries.items() if s in present}
    if req.space is not None:
        if req.space not in queries:
            raise BadRequest(f"the file gives no vector in space {req.space!r}")
        queries = {req.space: queries[req.space]}
    legs, spaces = search_spaces(searcher, queries, req, principal)
    return respond(searcher, legs, spaces, req, info, t0)
