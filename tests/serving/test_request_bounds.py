"""Hostile requests: traversal in every id and file-name parameter, and size bounds."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from dataflux_pipeline.cli.demo import free_port
from dataflux_pipeline.serving.app import create_app
from dataflux_pipeline.settings import Settings


@pytest.fixture
def service(tmp_path: Path):
    settings = Settings(home=tmp_path / "data", upload_max_bytes=10_000)
    settings.landing.mkdir(parents=True)
    (tmp_path / "secret.txt").write_text("outside the catalog")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", settings, tmp_path
    server.should_exit = True


@pytest.mark.parametrize(
    "path",
    [
        "/assets/..%2F..%2Fsecret.txt",
        "/assets/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/segments/..%2F..%2Fsecret.txt",
        "/thumbnails/../../../secret.txt",
        "/thumbnails/..%2F..%2F..%2Fsecret.txt",
        "/thumbnails/%2e%2e/%2e%2e/%2e%2e/secret.jpg",
        "/thumbnails//etc/passwd",
        "/thumbnails/%2Fetc%2Fpasswd",
    ],
)
def test_traversal_is_refused(service, path: str) -> None:
    url, _, _ = service
    resp = httpx.get(url + path)
    assert 400 <= resp.status_code < 500
    assert "outside the catalog" not in resp.text


def test_upload_names_cannot_leave_the_uploads_area(service) -> None:
    url, settings, root = service
    absolute = root / "abs_escape.txt"
    names = {
        "../../escape.txt": "escape.txt",
        str(absolute): "abs_escape.txt",
        "..\\..\\escape.txt": "_.._escape.txt",  # backslashes are not separators here
    }
    for n, (name, landed_as) in enumerate(names.items()):
        body = f"plain text body {n}".encode()
        resp = httpx.post(f"{url}/assets", files={"file": (name, body)})
        assert resp.status_code == 202, resp.text
        assert resp.json()["file_name"] == landed_as
        landed = settings.uploads / resp.json()["asset_id"] / landed_as
        assert landed.read_bytes() == body
    uploads = settings.uploads.resolve()
    escaped = [p for p in root.rglob("*escape*") if not p.resolve().is_relative_to(uploads)]
    assert escaped == [] and not absolute.exists()


def test_bounds_are_enforced(service) -> None:
    url, settings, _ = service
    for body in (
        {"query": "x" * 5000},
        {"query": "ok", "limit": 0},
        {"query": "ok", "limit": 101},
        {"query": "ok", "offset": -1},
    ):
        assert httpx.post(f"{url}/search", json=body).status_code == 422, body
    big = httpx.post(f"{url}/assets", files={"file": ("big.txt", b"x" * 50_000)})
    assert big.status_code == 413
    assert not [p for p in settings.uploads.rglob("*") if p.is_file()]
    assert not [p for p in settings.landing.rglob("*") if p.is_file()]


def test_ids_and_dates_beyond_what_the_database_holds_are_refused(service) -> None:
    """They reached SQLite (an int over 64 bits) or a UTC conversion (year 9999 with an
    offset) and came back as 500s."""
    url, _, _ = service
    huge = 10**20

    def arrived(**bounds: str) -> dict:
        return {"query": "x", "filters": {"arrived_at": bounds}}

    for method, path, body in (
        ("POST", "/search", {"query": "x", "person_id": huge}),
        ("POST", "/search", {"query": "x", "collection_id": huge}),
        ("POST", "/search", arrived(**{"from": "9999-12-31T23:59:59-01:00"})),
        ("POST", "/search", arrived(to="0001-01-01T00:00:00+01:00")),
        ("DELETE", f"/auth/keys/{huge}", None),
        ("GET", f"/people/{huge}", None),
        ("GET", f"/collections/{huge}", None),
    ):
        resp = httpx.request(method, url + path, json=body)
        assert resp.status_code == 422, (path, body, resp.text)
    ok = arrived(**{"from": "2026-01-01T00:00:00+01:00"})
    assert httpx.post(f"{url}/search", json=ok).status_code == 200


def test_a_sidecar_name_too_long_beside_its_file_is_refused_and_leaves_nothing(service) -> None:
    url, settings, _ = service
    files = [
        ("file", ("A" * 195 + ".txt", b"a note about the harbour")),
        ("sidecar", ("c." + "x" * 60 + ".json", b'{"title": "harbour"}')),
    ]
    resp = httpx.post(f"{url}/assets", files=files)
    assert resp.status_code == 422 and "too long" in resp.text
    left = [p for p in settings.uploads.rglob("*") if p.is_file() or p.suffix == ".group"]
    assert left == []
