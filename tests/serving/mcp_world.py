"""What the MCP tests share: a catalog with accounts, the SDK's own client over a real
`dataflux mcp` subprocess (stdio) or a real service on loopback (streamable HTTP), and
a compact view of a tool call's answer."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from dataflux_pipeline.accounts.users import add_user, create_key, get_user
from dataflux_pipeline.catalog import Catalog
from dataflux_pipeline.settings import Settings, SourceConfig

PASSWORD = "correct horse battery staple"
SECRET_WORDS = "zeppelin marmalade"
USERS = {"ed": "editor", "vi": "viewer", "st": "editor"}  # st: the stranger
TOOLS = {
    "search",
    "similar",
    "get_asset",
    "get_thumbnail",
    "get_transcript",
    "get_text",
    "catalog_stats",
    "list_collections",
    "create_collection",
    "add_to_collection",
    "reanalyze",
    "ingest",
}


@dataclass
class Reply:
    error: str | None
    data: dict[str, Any] = field(default_factory=dict)
    content: list = field(default_factory=list)


@dataclass
class Place:
    """A home with accounts, a running service and the folder ingest may read."""

    settings: Settings
    url: str
    drop: Path
    keys: dict[str, str] = field(default_factory=dict)


def settings_for(root: Path, **extra) -> Settings:
    drop = root / "drop"
    drop.mkdir(parents=True, exist_ok=True)
    knobs = {"settle_seconds": 0.0, "index_refresh_s": 0.0, "mcp_allowed_roots": [str(drop)]}
    return Settings(home=root / "data", **(knobs | extra))


def add_users(settings: Settings) -> dict[str, str]:
    """The accounts, and an API key for each (what an assistant would be given)."""
    db = Catalog.open(settings.database).db
    keys = {}
    for name, role in USERS.items():
        add_user(db, name, role, PASSWORD)
        keys[name] = create_key(db, get_user(db, name), "assistant", []).secret
    return keys


def token(url: str, name: str) -> str:
    resp = httpx.post(f"{url}/auth/token", data={"username": name, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    return resp.json()["access_token"]


def stdio_params(settings: Settings, *args: str, **env_extra: str) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATAFLUX_")}
    env |= env_extra | {
        "DATAFLUX_HOME": str(settings.home),
        "DATAFLUX_INDEX_REFRESH_S": "0",
        "DATAFLUX_MCP_ALLOWED_ROOTS": json.dumps(settings.mcp_allowed_roots),
    }
    command = [sys.executable, "-m", "dataflux_pipeline.cli.main", "mcp", *args]
    return StdioServerParameters(command=command[0], args=command[1:], env=env)


@asynccontextmanager
async def connect(
    place: Place, transport: str, user: str, by_key: bool = False
) -> AsyncIterator[Client]:
    """The SDK's client acting as `user`: over stdio with --user (or their API key in
    DATAFLUX_MCP_KEY), over HTTP with a bearer token (or the key as X-API-Key)."""
    if transport == "stdio":
        if by_key:
            params = stdio_params(place.settings, DATAFLUX_MCP_KEY=place.keys[user])
        else:
            params = stdio_params(place.settings, "--user", user)
        async with Client(params) as client:
            yield client
        return
    if by_key:
        headers = {"X-API-Key": place.keys[user]}
    else:
        headers = {"Authorization": f"Bearer {token(place.url, user)}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=120) as http,
        Client(streamable_http_client(f"{place.url}/mcp", http_client=http)) as client,
    ):
        yield client


@contextmanager
def s3_objects(monkeypatch, bucket: str, objects: dict[str, bytes]) -> Iterator[None]:
    """A bucket holding `objects` on moto's S3 server (loopback), the AWS_* variables
    pointing at it for the duration."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    try:
        client = boto3.client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket=bucket)
        for key, body in objects.items():
            client.put_object(Bucket=bucket, Key=key, Body=body)
        yield
    finally:
        server.stop()


async def every_path(client: Client, ident: str, other: str) -> dict[str, Any]:
    """What each tool and resource says about asset `ident` (and, for search, similar,
    stats and collections, whether it shows up while looking at `other`)."""
    out: dict[str, Any] = {
        "search": await call(client, "search", query=SECRET_WORDS, limit=50),
        "similar_to": await call(client, "similar", asset_id=other, limit=50),
        "similar": await call(client, "similar", asset_id=ident),
        "similar_segment": await call(client, "similar", segment_id=f"{ident}:image:0"),
        "get_asset": await call(client, "get_asset", asset_id=ident),
        "prefix": await call(client, "get_asset", asset_id=ident[:10]),
        "transcript": await call(client, "get_transcript", asset_id=ident),
        "text": await call(client, "get_text", asset_id=ident),
        "thumbnail": await call(client, "get_thumbnail", item_id=ident),
        "segment_thumb": await call(client, "get_thumbnail", item_id=f"{ident}:image:0"),
        "stats": await call(client, "catalog_stats"),
        "collections": await call(client, "list_collections"),
        "create": await call(client, "create_collection", name="x", asset_ids=[ident]),
        "reanalyze": await call(client, "reanalyze", asset_ids=[ident]),
    }
    for kind in ("asset", "thumbnail"):
        try:
            await client.read_resource(f"dataflux://{kind}/{ident}")
            out[f"{kind}_resource"] = None
        except MCPError as exc:
            out[f"{kind}_resource"] = exc.error.message
    return out


async def call(client: Client, tool: str, **args) -> Reply:
    result = await client.call_tool(tool, args)
    if result.is_error:
        return Reply(result.content[0].text, content=result.content)
    return Reply(None, result.structured_content or {}, result.content)


@contextmanager
def ingested_world(root: Path) -> Iterator[tuple[Place, dict[str, str], object]]:
    """The demo's whale video with its subtitles (public), and an image with a caption in
    a folder owned by `st` (private to st), ingested by the pipeline; then the service.
    Yields the place, file stem -> asset id, and the Dagster instance for later ingests."""
    import dagster as dg

    from dataflux_pipeline.cli.ingest import ingest
    from dataflux_pipeline.cli.samples import write_image
    from dataflux_pipeline.cli.samples.demo_set import DEMO_CUES
    from dataflux_pipeline.cli.samples.media import Shot, write_srt, write_video
    from tests.eval.harness import asset_ids, serve

    vault = root / "vault"
    vault.mkdir()
    settings = settings_for(root, sources=[SourceConfig(name="vault", uri=str(vault), owner="st")])
    keys = add_users(settings)
    landing = settings.landing
    landing.mkdir(parents=True)
    shots = [Shot(50, (20, 60, 140)), Shot(50, (200, 160, 40)), Shot(50, (40, 150, 60))]
    write_video(landing / "whale_documentary.mp4", shots)
    write_srt(landing / "whale_documentary.srt", DEMO_CUES)
    write_image(vault / "secret_plans.jpg", (90, 30, 160), seed=7)
    (vault / "secret_plans.json").write_text(json.dumps({"title": SECRET_WORDS}))
    (root / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(root / "dagster")) as instance:
        assert not ingest(settings, instance).failed_runs
        with serve(settings) as url:
            yield Place(settings, url, root / "drop", keys), asset_ids(settings), instance
