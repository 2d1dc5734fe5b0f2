"""The web pages: a shell page and hand-written ES modules and CSS shipped in the
package (no build step, no Node), served by `dataflux serve` on the API's own origin,
plus the API docs from a package's bundled Swagger UI and ReDoc, so both work offline."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from dataflux_pipeline.serving.web.headers import SecurityHeaders
from dataflux_pipeline.serving.web.pages import APIDOCS, docs_router, pages_router

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Page routes, the docs, static files and the security headers every response gets."""
    app.mount("/static/apidocs", StaticFiles(directory=APIDOCS), name="apidocs")
    app.mount("/static/web", StaticFiles(directory=STATIC), name="web")
    app.include_router(pages_router)
    app.include_router(docs_router)
    app.add_middleware(SecurityHeaders)
