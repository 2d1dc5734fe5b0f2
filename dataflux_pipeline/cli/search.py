"""`dataflux search`: ask the running service (models already loaded, answers in
milliseconds); read the index in this process only when no service answers."""

from __future__ import annotations

import sys
from typing import Any

import httpx

from dataflux_pipeline.settings import Settings


def print_hits(response: dict[str, Any]) -> None:
    results = response["results"]
    print(f"{len(results)} of {response['total']} asset(s) for {response['query']!r}")
    for n, hit in enumerate(results, 1):
        print(f"{n:>2}. {hit['score']:.3f}  {hit['media_type'] or '?':<9} {hit['file_name']}")
        for seg in hit["segments"]:
            when = ""
            if seg["start_s"] is not None:
                when = f"@{seg['start_s']:.2f}s"
            elif seg["page"] is not None:
                when = f"p.{seg['page']}"
            text = (seg["text"] or seg["thumbnail"] or "").replace("\n", " ")[:70]
            print(f"      {seg['score']:.3f} {seg['kind']:<11} {when:<9} {text}")


def _local(settings: Settings, body: dict[str, Any]) -> dict[str, Any]:
    from dataflux_pipeline.serving.schemas import SearchRequest
    from dataflux_pipeline.serving.search import Searcher

    return Searcher(settings).search(SearchRequest(**body)).model_dump()


def search(settings: Settings, body: dict[str, Any], url: str | None, local: bool) -> int:
    url = (url or settings.api_url).rstrip("/")
    if not local:
        headers = {"X-API-Key": settings.api_key} if settings.api_key else {}
        try:
            resp = httpx.post(f"{url}/search", json=body, headers=headers, timeout=60)
        except httpx.TransportError:
            print(
                f"no service answers at {url}; searching the index in this process "
                "(loads the text model first, which takes a few seconds)",
                file=sys.stderr,
            )
        else:
            if resp.status_code != 200:
                print(f"error {resp.status_code} from {url}: {resp.text}", file=sys.stderr)
                return 1
            print_hits(resp.json())
            return 0
    print_hits(_local(settings, body))
    return 0
