"""Page routes: every page of the web interface is the same shell (the modules route on
the client), and /docs and /redoc are FastAPI's pages pointed at bundled assets."""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse

from dataflux_pipeline.serving.web.headers import PAGE_CSP

SHELL = Path(__file__).parent / "static" / "index.html"
APIDOCS = Path(fastapi_offline.__file__).parent / "static"
PAGES = ("/", "/upload", "/library", "/overview", "/admin", "/signin", "/asset/{asset_id}")
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)

pages_router = APIRouter(include_in_schema=False)
docs_router = APIRouter(include_in_schema=False)


@cache
def _shell() -> str:
    return SHELL.read_text(encoding="utf-8")


def page(request: Request) -> HTMLResponse:
    """The shell; what it shows is decided by the modules from the address."""
    return HTMLResponse(
        _shell(), headers={"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-cache"}
    )


for _path in PAGES:
    pages_router.add_api_route(_path, page, methods=["GET"])


def _with_hashes(html: HTMLResponse, styles: str) -> HTMLResponse:
    """FastAPI's docs pages start their viewer from an inline script: allow exactly that
    script by its hash, never inline scripts in general. The viewers style themselves
    from script (inline styles), which cannot run code."""
    body = html.body.decode()
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in INLINE_SCRIPT.findall(body)
    )
    csp = (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' {styles}; "
        "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
    return HTMLResponse(body, headers={"Content-Security-Policy": csp})


@docs_router.get("/docs")
def swagger(request: Request) -> HTMLResponse:
    html = get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} - API",
        swagger_js_url="/static/apidocs/swagger-ui-bundle.js",
        swagger_css_url="/static/apidocs/swagger-ui.css",
        swagger_favicon_url="/static/apidocs/favicon.png",
        oauth2_redirect_url="/docs/oauth2-redirect",
    )
    return _with_hashes(html, "'unsafe-inline'")


@docs_router.get("/docs/oauth2-redirect")
def swagger_redirect() -> HTMLResponse:
    return _with_hashes(get_swagger_ui_oauth2_redirect_html(), "'unsafe-inline'")


@docs_router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    html = get_redoc_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} - API",
        redoc_js_url="/static/apidocs/redoc.standalone.js",
        redoc_favicon_url="/static/apidocs/favicon.png",
        with_google_fonts=False,
    )
    return _with_hashes(html, "'unsafe-inline'")
