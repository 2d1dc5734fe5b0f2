"""Query-time search: embed the query, search each text-compatible space, group by asset."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from dataflux_pipeline.index import SearchIndex
from dataflux_pipeline.serving.schemas import AssetHit, SearchRequest, SearchResponse, SegmentHit
from dataflux_pipeline.settings import Settings

SEGMENTS_PER_ASSET = 3


class Searcher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.index = SearchIndex(settings.lancedb, refresh_seconds=1.0)

    def text_model(self):
        from dataflux_pipeline.models.text import load_text_embedder

        return load_text_embedder(self.settings.text_model, self.settings.device)

    def clip_model(self):
        if not self.settings.clip_model:
            return None
        from dataflux_pipeline.models.clip import load_clip_embedder

        return load_clip_embedder(self.settings.clip_model, self.settings.device)

    def query_vectors(self, query: str) -> dict[str, Any]:
        vectors = {"text": self.text_model().encode([query])[0]}
        clip = self.clip_model()
        if clip is not None:
            vectors["clip"] = clip.encode_texts([query])[0]
        return vectors

    def search(self, req: SearchRequest) -> SearchResponse:
        t0 = time.perf_counter()
        where = None
        if req.media_types:
            where = "media_type IN ({})".format(", ".join(f"'{m}'" for m in req.media_types))
        k = min(1000, (req.offset + req.limit) * 20)
        by_asset: dict[str, list[SegmentHit]] = defaultdict(list)
        info: dict[str, dict[str, Any]] = {}
        for space, vector in self.query_vectors(req.query).items():
            for row in self.index.search(space, vector, k, where):
                hit = SegmentHit(
                    segment_id=row["segment_id"],
                    kind=row["kind"],
                    score=round(1.0 - float(row["_distance"]), 6),
                    start_s=row["start_s"],
                    end_s=row["end_s"],
                    page=row["page"],
                    text=row["text"],
                    thumbnail=row["thumbnail"],
                    space=space,
                )
                by_asset[row["asset_id"]].append(hit)
                info.setdefault(row["asset_id"], row)
        results = []
        for asset_id, hits in by_asset.items():
            hits.sort(key=lambda h: h.score, reverse=True)
            row = info[asset_id]
            thumb = next((h.thumbnail for h in hits if h.thumbnail), None)
            results.append(
                AssetHit(
                    asset_id=asset_id,
                    media_type=row["media_type"],
                    file_name=row["file_name"],
                    score=hits[0].score,
                    thumbnail=thumb,
                    segments=hits[:SEGMENTS_PER_ASSET] if req.include_segments else [],
                )
            )
        results.sort(key=lambda r: r.score, reverse=True)
        page = results[req.offset : req.offset + req.limit]
        took = (time.perf_counter() - t0) * 1000
        return SearchResponse(query=req.query, results=page, total=len(results), took_ms=took)
