"""A minimal HTTP endpoint over a peer engine, so every engine is measured through the
same transport as DataFlux's service: the same uvicorn server, one process, JSON in and
out, the load generator's keep-alive connections.

`POST /search {"query", "mode", "limit"}` embeds the query with the same query encoder
the DataFlux service uses (MiniLM, its bfloat16 TorchScript copy where the CPU has
AVX512-BF16: the peers get the cheaper encoder too, so the comparison is of the search,
not of the encoder), asks the engine for 2 x limit segments (DataFlux's candidate depth)
and answers the first `limit` distinct assets with their best segment. Sync handlers run
on Starlette's thread pool, one request per thread, as a FastAPI `def` route does.

    DATAFLUX_HOME=... PEER_ENGINE=lancedb_hybrid python -m uvicorn --factory \
        bench.peers.server:create_app
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def open_engine(name: str, home: Path, folder: Path | None, ef: int | None):
    from bench.peers.engines import LanceHybrid, TantivyHnsw

    if name == LanceHybrid.name:
        return LanceHybrid(home / "lancedb")
    if name == TantivyHnsw.name:
        return TantivyHnsw(folder, ef)
    raise ValueError(f"unknown peer engine {name!r}")


def by_asset(rows: list[dict], limit: int) -> list[dict]:
    """The first `limit` distinct assets of ranked segment rows, each with its best one."""
    seen: dict[str, dict] = {}
    for r in rows:
        if r["asset_id"] not in seen:
            seen[r["asset_id"]] = {
                "asset_id": r["asset_id"],
                "file_name": r.get("file_name"),
                "media_type": r.get("media_type"),
                "score": r.get("score"),
                "segment": {k: r.get(k) for k in ("segment_id", "kind", "start_s", "end_s")}
                | {"text": r.get("text")},
            }
            if len(seen) == limit:
                break
    return list(seen.values())


def create_app() -> Starlette:
    import torch

    from dataflux_pipeline.serving.encoder import query_encoder
    from dataflux_pipeline.settings import Settings

    settings = Settings()
    torch.set_num_threads(settings.api_torch_threads or torch.get_num_threads())
    encoder = query_encoder(settings.text_model, "cpu", settings.query_encoder_bf16)
    folder = os.environ.get("PEER_FOLDER")
    ef = os.environ.get("PEER_EF")
    engine = open_engine(
        os.environ["PEER_ENGINE"],
        settings.home,
        Path(folder) if folder else None,
        int(ef) if ef else None,
    )
    encoder.encode(["warm-up"])

    def run(body: dict) -> dict:
        limit = int(body.get("limit", 10))
        vector = encoder.encode([body["query"]])[0]
        rows = engine.search(body["query"], vector, limit * 2, body.get("mode", "hybrid"))
        results = by_asset(rows, limit)
        return {"query": body["query"], "results": results, "total": len(results)}

    async def search(request: Request) -> Response:
        body = json.loads(await request.body())
        return JSONResponse(await run_in_threadpool(run, body))

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok", "engine": engine.name, "knobs": engine.knobs})

    return Starlette(routes=[Route("/search", search, methods=["POST"]), Route("/health", health)])
