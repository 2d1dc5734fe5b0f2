"""Regression tests for the findings of the security probe (docs/security.md), over a real
HTTP server on loopback, with API keys configured."""

from __future__ import annotations

import json
import socket
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import httpx
import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataflux_pipeline.cli.ingest import ingest
from dataflux_pipeline.cli.samples import DEMO_CUES, Shot, write_image, write_srt, write_video
from dataflux_pipeline.settings import Settings
from tests.eval.harness import serve

pytestmark = pytest.mark.slow
KEYS = {"all": ["search", "upload", "metrics"], "reader": ["search"]}
SECRET = "The vault combination is seven four nine one, keep it hidden."


@dataclass
class Env:
    settings: Settings
    url: str
    port: int

    def client(self, key: str | None = "all") -> httpx.Client:
        headers = {"X-API-Key": key} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("hardening")
    config = Settings(
        home=root / "data",
        settle_seconds=0.0,
        api_keys=KEYS,
        upload_max_bytes=1 << 20,
        query_file_max_bytes=1 << 20,
        index_refresh_s=0.0,
    )
    landing = config.landing
    outside = root / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    write_video(landing / "clip2.mp4", [Shot(25, (30, 90, 160)), Shot(25, (200, 150, 40))])
    (landing / "clip2.txt").symlink_to(outside / "secret.txt")  # pairs as its sidecar
    write_video(landing / "clip3.mp4", [Shot(25, (90, 30, 60))])
    write_srt(landing / "clip3.srt", DEMO_CUES)
    write_image(landing / "beach.jpg", (230, 120, 40))
    (root / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(root / "dagster")) as instance:
        assert not ingest(config, instance).failed_runs
        with serve(config) as url:
            yield Env(config, url, int(url.rsplit(":", 1)[1]))


def raw(port: int, head: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send a request head (and maybe part of a body) and read the answer, as a client
    that has much more to send would: the server must answer without waiting for it."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) == 0:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


def big_png(width: int, height: int) -> bytes:
    """A valid PNG of `width` x `height` black pixels, compressed to a few hundred kB,
    built row by row so the test never holds the pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    packer = zlib.compressobj(9)
    row = b"\x00" + b"\x00" * (width * 3)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def test_a_sidecar_link_out_of_the_landing_folder_is_refused(env: Env) -> None:
    with env.client() as c:
        hits = c.post("/search", json={"query": "vault combination hidden", "limit": 10}).json()
        assert not any("vault" in (s["text"] or "") for h in hits["results"] for s in h["segments"])
        clip = next(i for i in c.get("/assets").json()["items"] if i["file_name"] == "clip2.mp4")
        detail = c.get(f"/assets/{clip['asset_id']}").json()
        assert detail["sidecars"] == []
        assert all(SECRET not in (s["text"] or "") for s in detail["segments"])
    stored = list((env.settings.store).rglob("*"))
    assert not any(p.is_file() and SECRET.encode() in p.read_bytes() for p in stored)
    from dataflux_pipeline.storage.tables import TableStore

    intake = TableStore(env.settings.tables).read("assets")
    warnings = [w for ws in intake["warnings"].to_list() for w in (ws or [])]
    assert any("clip2.txt" in w and "outside its source" in w for w in warnings)


def test_no_key_is_refused_before_the_body_is_read(env: Env) -> None:
    spool = Path("/tmp")
    before = {p.name for p in spool.iterdir()}
    head = (
        "POST /assets HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        f"Content-Length: {4 << 30}\r\n"
    )
    status, body = raw(env.port, head, b"--b\r\n")
    assert status == 401 and b"send an API key" in body
    status, body = raw(env.port, head.replace("Host: x", "Host: x\r\nX-API-Key: nope"))
    assert status == 401 and b"unknown API key" in body
    status, body = raw(env.port, head.replace("Host: x", "Host: x\r\nX-API-Key: all"))
    assert status == 413  # declared over the limit: refused before a byte is read
    status, _ = raw(env.port, head.replace("/assets", "/search/by-file"))
    assert status == 401
    spooled = {p.name for p in spool.iterdir()} - before
    assert not [n for n in spooled if n.startswith("tmp")], spooled


def test_a_body_that_lies_about_its_length_is_cut_at_the_limit(env: Env) -> None:
    boundary = b"bound"
    head = b'--bound\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\n'

    def body():
        yield head
        for _ in range(64):  # 4 MiB, the limit is 1 MiB, no Content-Length
            yield b"a" * 65536
        yield b"\r\n--bound--\r\n"

    with env.client() as c:
        resp = c.post(
            "/assets",
            content=body(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary.decode()}"},
        )
    assert resp.status_code == 413 and "over the limit" in resp.json()["detail"]
    incoming = env.settings.uploads / ".incoming"
    assert not incoming.exists() or not list(incoming.iterdir())


def test_an_image_size_bomb_is_refused_without_decoding(env: Env) -> None:
    bomb = big_png(13000, 13000)
    assert len(bomb) < 1 << 20
    rss = psutil.Process().memory_info().rss
    with env.client() as c:
        for _ in range(3):
            resp = c.post("/search/by-file", files={"file": ("bomb.png", bomb, "image/png")})
            assert resp.status_code == 422
            assert "megapixels), over the limit" in str(resp.json()["detail"])
    assert psutil.Process().memory_info().rss - rss < 300 << 20


@pytest.mark.parametrize("value", ["NaN", "nan", "Infinity", "-inf", "1e999"])
def test_numbers_that_are_not_finite_are_a_422(env: Env, value: str) -> None:
    image = (env.settings.landing / "beach.jpg").read_bytes()
    with env.client() as c:
        resp = c.post(
            "/search/by-file",
            files={"file": ("q.jpg", image, "image/jpeg")},
            data={"threshold": value},
        )
        assert resp.status_code == 422, resp.text
        raw_body = f'{{"query": "beach", "filters": {{"duration_s": {{"min": {value}}}}}}}'
        resp = c.post("/search", content=raw_body, headers={"content-type": "application/json"})
        assert resp.status_code == 422, resp.text
        assert json.loads(resp.text)["error"] == "unprocessable_entity"


def test_each_route_decides_who_may_read_it(env: Env) -> None:
    with env.client(None) as anonymous:
        health = anonymous.get("/health").json()
        assert health == {"status": "ok", "version": health["version"], "auth": "accounts"}
        assert anonymous.get("/metrics").status_code == 401
        assert anonymous.get("/openapi.json").status_code == 200  # the shape, no data
        assert anonymous.get("/assets").status_code == 401
    with env.client("reader") as reader:
        assert reader.get("/metrics").status_code == 403
        assert "index_rows" in reader.get("/health").json()
    with env.client("all") as c:
        assert "dataflux_requests" in c.get("/metrics").text


def test_no_server_path_in_any_answer(env: Env) -> None:
    home = str(env.settings.home.resolve())
    with env.client() as c:
        items = c.get("/assets").json()["items"]
        answers = [c.get(f"/assets/{i['asset_id']}").text for i in items]
        answers.append(c.get("/thumbnails/" + "x" * 300 + ".jpg").text)
        answers.append(c.get("/thumbnails/ab/" + "y" * 64 + "/%00.jpg").text)
        answers.append(c.post("/search", json={"query": "beach"}).text)
    assert not [a for a in answers if home in a or "file://" in a]


def test_thumbnails_are_private_when_keys_are_required(env: Env) -> None:
    with env.client() as c:
        beach = next(i for i in c.get("/assets").json()["items"] if i["file_name"] == "beach.jpg")
        resp = c.get(f"/thumbnails/{beach['asset_id']}")
        assert resp.status_code == 200 and resp.headers["cache-control"].startswith("private")


def test_odd_uploads_are_either_taken_or_refused_clearly(env: Env) -> None:
    with env.client() as c:
        resp = c.post(
            "/assets", files={"file": ("_tmpfile13.txt", b"notes about tea", "text/plain")}
        )
        assert resp.status_code == 202 and resp.json()["file_name"] == "upload-_tmpfile13.txt"
        twice = [
            ("file", ("a.txt", b"one", "text/plain")),
            ("file", ("b.txt", b"two", "text/plain")),
        ]
        resp = c.post("/assets", files=twice)
        assert resp.status_code == 422 and "exactly one" in resp.text
        asset = c.get("/assets").json()["items"][-1]["asset_id"]
        assert c.get(f"/assets/{asset}%0A").status_code == 422  # a trailing newline


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(
    number=st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from(["NaN", "-Infinity", "1e999", "-1e999", "0x10", "", " "]),
    ),
    field=st.sampled_from(["limit", "offset", "segments_per_asset", "min", "max", "threshold"]),
)
def test_hostile_numbers_never_give_a_server_error(env: Env, number, field: str) -> None:
    literal = number if isinstance(number, str) else repr(number).replace("inf", "Infinity")
    if field in ("min", "max"):
        body = f'{{"query": "beach", "filters": {{"width": {{"{field}": {literal or 0}}}}}}}'
        target, extra = "/search", {}
    elif field == "threshold":
        body, target = None, "/search/by-file"
        extra = {"data": {"threshold": str(number)}}
    else:
        body = f'{{"query": "beach", "{field}": {literal or 0}}}'
        target, extra = "/search", {}
    with env.client() as c:
        if body is not None:
            resp = c.post(target, content=body, headers={"content-type": "application/json"})
        else:
            image = (env.settings.landing / "beach.jpg").read_bytes()
            resp = c.post(target, files={"file": ("q.jpg", image, "image/jpeg")}, **extra)
    assert resp.status_code < 500, resp.text
