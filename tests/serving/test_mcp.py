"""The MCP server through the SDK's own client, over stdio (a real `dataflux mcp`
subprocess) and streamable HTTP (the real service on loopback): the tools and their
schemas, errors an agent can act on, search and quoting on an ingested catalog, ingest
through the pipeline, and that a call sees only what its account may read."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import httpx
import pytest

from dataflux_pipeline.accounts import collections
from dataflux_pipeline.accounts.users import get_user, principal_for
from dataflux_pipeline.catalog import Catalog
from dataflux_pipeline.cli.ingest import ingest
from dataflux_pipeline.cli.samples.demo_set import DEMO_CUES
from tests.eval.harness import serve
from tests.serving.mcp_world import (
    TOOLS,
    Place,
    add_users,
    call,
    connect,
    every_path,
    ingested_world,
    s3_objects,
    settings_for,
    stdio_params,
)

TRANSPORTS = ["stdio", "http"]
FAKE = "f" * 64


def run(coro):
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def empty(tmp_path_factory) -> Iterator[Place]:
    """Accounts and no media: enough for schemas and argument errors, with no ingest."""
    root = tmp_path_factory.mktemp("mcp-empty")
    settings = settings_for(root)
    keys = add_users(settings)
    (root / "outside.txt").write_text("not for agents")
    (root / "drop" / "escape.txt").symlink_to(root / "outside.txt")
    with serve(settings) as url:
        yield Place(settings, url, root / "drop", keys)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_tools_have_schemas_an_agent_can_follow(empty: Place, transport: str) -> None:
    async def scenario():
        async with connect(empty, transport, "ed") as client:
            listed = {t.name: t for t in (await client.list_tools()).tools}
            templates = await client.list_resource_templates()
            return listed, {t.uri_template: t for t in templates.resource_templates}

    tools, templates = run(scenario())
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert len(tool.description) > 80, tool.name
        schema = tool.input_schema
        assert schema["type"] == "object" and "ctx" not in schema["properties"]
        for name, prop in schema["properties"].items():
            assert prop.get("description") or "$ref" in json.dumps(prop), (tool.name, name)
    search = tools["search"].input_schema
    assert search["required"] == ["query"]
    assert search["properties"]["limit"]["minimum"] == 1
    assert search["properties"]["limit"]["maximum"] == 50
    assert search["properties"]["mode"]["enum"] == ["hybrid", "vector", "text"]
    filters = search["$defs"]["Filters"]
    assert filters["additionalProperties"] is False and "duration_s" in filters["properties"]
    ingest_props = tools["ingest"].input_schema["properties"]
    assert set(ingest_props) == {"path", "content_base64", "file_name", "visibility"}
    assert tools["add_to_collection"].input_schema["required"] == ["collection_id", "asset_ids"]
    assert tools["get_transcript"].input_schema["properties"]["limit"]["maximum"] == 200
    reading = {"search", "similar", "get_asset", "get_transcript", "get_text", "catalog_stats"}
    assert all(tools[n].annotations.read_only_hint for n in reading)
    assert not tools["ingest"].annotations.read_only_hint
    assert templates["dataflux://asset/{asset_id}"].mime_type == "application/json"
    assert templates["dataflux://thumbnail/{item_id}"].mime_type == "image/jpeg"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_bad_arguments_are_tool_errors(empty: Place, transport: str) -> None:
    drop = empty.drop
    cases = [
        ("search", {"query": "whales", "limit": -1}, "greater than or equal to 1"),
        ("search", {"query": "whales", "filters": {"colour": "red"}}, "filters.colour"),
        ("search", {"query": "   "}, "query is blank"),
        ("similar", {"segment_id": f"{FAKE}:cue:0", "space": "smell"}, "no embedding space"),
        ("similar", {}, "exactly one of asset_id or segment_id"),
        ("get_asset", {"asset_id": FAKE}, "not found"),
        ("get_asset", {"asset_id": "zzzzzzzz"}, "not an id"),
        ("get_transcript", {"asset_id": FAKE, "offset": -5}, "greater than or equal to 0"),
        ("ingest", {"path": "/etc/passwd"}, "outside the allowed roots"),
        ("ingest", {"path": f"{drop}/../outside.txt"}, "`..` is not allowed"),
        ("ingest", {"path": "drop/file.txt"}, "absolute path"),
        ("ingest", {"path": "~nosuchuser_zz/clip.mp4"}, "absolute path"),
        ("ingest", {"path": str(drop / "escape.txt")}, "link that leads outside"),
        ("ingest", {"path": str(drop / "missing.txt")}, "no readable file"),
        ("ingest", {"path": "s3://bucket/key.mp4"}, "reading from S3 is off"),
        ("ingest", {"content_base64": "%%%", "file_name": "a.txt"}, "not valid base64"),
        ("ingest", {}, "exactly one of path or content_base64"),
        ("add_to_collection", {"collection_id": 99, "asset_ids": [FAKE]}, "not found"),
    ]

    async def scenario():
        async with connect(empty, transport, "ed") as client:
            replies = [await call(client, tool, **args) for tool, args, _ in cases]
            stats = await call(client, "catalog_stats")  # still answering
            return replies, stats

    replies, stats = run(scenario())
    for (tool, args, expected), reply in zip(cases, replies, strict=True):
        assert reply.error is not None, (tool, args)
        assert expected in reply.error, (tool, args, reply.error)
        assert "Traceback" not in reply.error
    assert stats.error is None and stats.data["assets"] == 0


def test_http_endpoint_authenticates_like_the_api(empty: Place) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    url = f"{empty.url}/mcp"
    assert httpx.post(url, json=body).status_code == 401
    assert httpx.post(url, json=body, headers={"X-API-Key": "dfx_no_such"}).status_code == 401
    key = {"X-API-Key": empty.keys["vi"]}
    evil = httpx.post(url, json=body, headers=key | {"Origin": "http://evil.example"})
    assert evil.status_code == 403
    assert "/mcp" not in httpx.get(f"{empty.url}/openapi.json").json()["paths"]


def test_stdio_refuses_to_guess_who_it_is(empty: Place) -> None:
    for args in ([], ["--user", "nobody"]):
        params = stdio_params(empty.settings, *args)
        done = subprocess.run(
            [params.command, *params.args],
            env=params.env,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 2, done.stderr
        assert "--user" in done.stderr or "nobody" in done.stderr
        assert done.stdout == ""  # stdout is the protocol's


def test_open_mode_acts_as_the_local_owner(tmp_path: Path) -> None:
    from dataflux_pipeline.accounts.principals import OPEN
    from dataflux_pipeline.cli.mcp import acting, service

    svc = service(settings_for(tmp_path))
    assert acting(svc, None, None)() is OPEN


def test_ingest_from_an_allowed_s3_prefix(tmp_path: Path, monkeypatch) -> None:
    """An object under an allowed s3:// prefix is copied into the uploads area, owned by
    the caller (moto's S3 server on loopback; the SDK's in-process client)."""
    from mcp import Client

    from dataflux_pipeline.catalog.access import pending_uploads
    from dataflux_pipeline.cli.mcp import service
    from dataflux_pipeline.serving.mcp.server import build_server

    body = b"Harbour pilots log the tides of the northern fjord.\n"
    settings = settings_for(tmp_path, mcp_allowed_roots=["s3://media/allowed"])
    add_users(settings)
    svc = service(settings)
    ed = principal_for(svc.db, get_user(svc.db, "ed"))

    async def scenario():
        async with Client(build_server(svc, lambda: ed)) as client:
            paths = ["allowed/pilots.txt", "other/x.txt", "allowed/../other/x.txt"]
            paths.append("allowed/none.txt")
            replies = [await call(client, "ingest", path=f"s3://media/{p}") for p in paths]
            return [*replies, await call(client, "ingest", path=str(tmp_path / "drop/a.txt"))]

    with s3_objects(monkeypatch, "media", {"allowed/pilots.txt": body, "other/x.txt": body}):
        landed, outside, dotdot, missing, local = run(scenario())
    assert landed.error is None and landed.data["status"] == "queued", landed
    assert (settings.uploads / landed.data["asset_id"] / "pilots.txt").read_bytes() == body
    assert landed.data["asset_id"] in pending_uploads(svc.live, ed.readers)  # ed owns it
    assert "outside the allowed prefixes" in outside.error
    assert "`..`" in dotdot.error and "no object at" in missing.error
    assert "reading files by path is off" in local.error


# ---- on an ingested catalog ------------------------------------------------------------
@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[tuple[Place, dict[str, str], dg.DagsterInstance]]:
    with ingested_world(tmp_path_factory.mktemp("mcp-world")) as built:
        yield built


@pytest.mark.slow
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_search_finds_the_moment_and_quotes_it(world, transport: str) -> None:
    place, ids, _ = world
    whale = ids["whale_documentary"]

    async def scenario():
        async with connect(place, transport, "vi", by_key=transport == "http") as client:
            found = await call(client, "search", query="whales", limit=5)
            spoken = await call(client, "get_transcript", asset_id=whale[:12])
            text = await call(client, "get_text", asset_id=whale, kinds=["cue"], limit=2)
            detail = await call(client, "get_asset", asset_id=whale)
            picture = await call(client, "get_thumbnail", item_id=whale)
            resource = await client.read_resource(f"dataflux://asset/{whale}")
            thumb = await client.read_resource(f"dataflux://thumbnail/{whale}")
            return found, spoken, text, detail, picture, resource, thumb

    found, spoken, text, detail, picture, resource, thumb = run(scenario())
    top = found.data["hits"][0]
    assert top["asset_id"] == whale and top["file_name"] == "whale_documentary.mp4"
    assert top["kind"] == "cue" and top["media_type"] == "video"
    assert top["start_s"] == pytest.approx(0.2, abs=0.01)
    assert top["end_s"] == pytest.approx(1.9, abs=0.01)
    assert "whales" in top["snippet"] and top["link"].endswith(f"/asset/{whale}?t=0.2")
    assert spoken.data["total"] == 3 and spoken.data["next_offset"] is None
    assert [i["text"] for i in spoken.data["items"]] == [c[2] for c in DEMO_CUES]
    assert spoken.data["items"][0]["start_s"] == pytest.approx(0.2, abs=0.01)
    assert text.data["total"] == 3 and len(text.data["items"]) == 2
    assert text.data["next_offset"] == 2
    assert detail.data["segments"]["by_kind"]["cue"] == 3 and detail.data["state"] == "completed"
    image = picture.content[0]
    assert image.mime_type == "image/jpeg" and base64.b64decode(image.data)[:2] == b"\xff\xd8"
    asset = json.loads(resource.contents[0].text)
    assert asset["asset"]["file_name"] == "whale_documentary.mp4"
    assert thumb.contents[0].mime_type == "image/jpeg"
    assert base64.b64decode(thumb.contents[0].blob)[:2] == b"\xff\xd8"


@pytest.mark.slow
def test_ingest_makes_a_file_searchable(world) -> None:
    """Over stdio, as the editor (by API key): a file from the allowed folder and one sent
    as bytes land in the uploads area; the pipeline takes them (run here in process, as
    the daemon would); search through the same server then finds them, for their owner
    only."""
    place, _, instance = world
    log = place.drop / "keeper_log.txt"
    log.write_text("The quokka keeper logged every lighthouse beam at dusk.\n")
    note = b"Tide tables for the narwhal estuary, printed each spring.\n"

    async def land():
        async with connect(place, "stdio", "ed", by_key=True) as client:
            first = await call(client, "ingest", path=str(log))
            again = await call(client, "ingest", path=str(log))
            sent = await call(
                client,
                "ingest",
                content_base64=base64.b64encode(note).decode(),
                file_name="tides.txt",
            )
            queued = await call(client, "get_asset", asset_id=first.data["asset_id"])
            return first, again, sent, queued

    first, again, sent, queued = run(land())
    assert first.error is None and first.data["status"] == "queued", first
    assert again.data["already_known"] and again.data["asset_id"] == first.data["asset_id"]
    assert sent.data["status"] == "queued" and sent.data["file_name"] == "tides.txt"
    assert queued.data["state"] == "queued"
    assert not ingest(place.settings, instance).failed_runs

    async def find(user: str):
        async with connect(place, "stdio", user) as client:
            keeper = await call(client, "search", query="quokka lighthouse keeper")
            tides = await call(client, "search", query="narwhal estuary tide tables")
            done = await call(client, "get_asset", asset_id=first.data["asset_id"])
            return keeper, tides, done

    keeper, tides, done = run(find("ed"))
    assert keeper.data["hits"][0]["file_name"] == "keeper_log.txt"
    assert tides.data["hits"][0]["file_name"] == "tides.txt"
    assert done.data["state"] == "completed"
    keeper, _, done = run(find("vi"))  # private to the editor who ingested it
    assert first.data["asset_id"] not in {h["asset_id"] for h in keeper.data["hits"]}
    assert done.error is not None and "not found" in done.error


@pytest.mark.slow
def test_a_viewer_cannot_ingest_or_reanalyze(world) -> None:
    place, ids, _ = world
    whale = ids["whale_documentary"]
    (place.drop / "viewer.txt").write_text("a viewer's attempt")

    async def scenario():
        async with connect(place, "http", "vi") as client:
            by_path = await call(client, "ingest", path=str(place.drop / "viewer.txt"))
            by_bytes = await call(client, "ingest", content_base64="aGk=", file_name="a.txt")
            again = await call(client, "reanalyze", asset_ids=[whale])
            keep = await call(client, "create_collection", name="mine")
        async with connect(place, "http", "st") as client:
            owner = await call(client, "reanalyze", asset_ids=[ids["secret_plans"]])
        return by_path, by_bytes, again, keep, owner

    by_path, by_bytes, again, keep, owner = run(scenario())
    for reply in (by_path, by_bytes, again, keep):
        assert reply.error is not None and "not allowed" in reply.error
        assert "lacks the" in reply.error
    assert owner.error is None and owner.data["queued"] == [ids["secret_plans"]]
    uploads = place.settings.uploads
    assert not any(p.name == "viewer.txt" for p in uploads.rglob("*"))


@pytest.mark.slow
def test_reanalyze_queues_nothing_when_one_asset_is_not_the_callers(world) -> None:
    """All or nothing: it used to queue the caller's own assets and then fail on the
    first one they did not own, and the agent read that nothing had happened."""
    from sqlalchemy import func, select

    from dataflux_pipeline.catalog.models import Event

    place, ids, _ = world
    secret, whale = ids["secret_plans"], ids["whale_documentary"]
    catalog = Catalog.open(place.settings.database)

    def requests() -> int:
        with catalog.reading() as s:
            return s.scalar(
                select(func.count())
                .select_from(Event)
                .where(Event.asset_id == secret, Event.kind == "reanalysis_requested")
            )

    before = requests()

    async def scenario():
        async with connect(place, "http", "st") as client:  # owns the plans, not the whale
            return await call(client, "reanalyze", asset_ids=[secret, whale])

    reply = run(scenario())
    assert reply.error is not None and "owners" in reply.error
    assert requests() == before


@pytest.mark.slow
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_strangers_private_asset_is_invisible(world, transport: str) -> None:
    """Through every tool and resource, for a viewer and for another editor, and every
    refusal reads exactly as for an id that does not exist; its owner does see it."""
    place, ids, _ = world
    secret, whale = ids["secret_plans"], ids["whale_documentary"]
    db = Catalog.open(place.settings.database).db
    st = principal_for(db, get_user(db, "st"))
    shared = collections.create(db, st, f"plans-{transport}")
    collections.add_items(db, st, shared.id, [secret, whale])
    collections.share(db, st, shared.id, f"u:{get_user(db, 'vi').id}")

    async def probe(user: str, ident: str):
        async with connect(place, transport, user) as client:
            return await every_path(client, ident, whale)

    def same(a: str | None, b: str | None, ident: str) -> bool:
        """Refusals read alike once the ids (and their prefixes) are masked."""
        mask = lambda t, i: t.replace(i, "<id>").replace(i[:10], "<prefix>")  # noqa: E731
        return a is not None and b is not None and mask(a, ident) == mask(b, FAKE)

    for user in ("vi", "ed"):
        seen, fake = run(probe(user, secret)), run(probe(user, FAKE))
        assert secret not in [h["asset_id"] for h in seen["search"].data["hits"]]
        assert secret not in [h["asset_id"] for h in seen["similar_to"].data["hits"]]
        assert "image" not in seen["stats"].data["by_media_type"]
        assert secret not in json.dumps(seen["stats"].data)
        listed = {c["name"]: c["asset_ids"] for c in seen["collections"].data["collections"]}
        assert listed.get(f"plans-{transport}") == ([whale] if user == "vi" else None)
        refusals = ["similar", "similar_segment", "get_asset", "prefix", "transcript", "text"]
        for name in [*refusals, "thumbnail", "segment_thumb", "reanalyze", "create"]:
            assert same(seen[name].error, fake[name].error, secret), (user, name, seen[name])
        for name in ("asset_resource", "thumbnail_resource"):
            assert same(seen[name], fake[name], secret), (user, name, seen[name])
    mine = run(probe("st", secret))
    assert secret in [h["asset_id"] for h in mine["search"].data["hits"]]
    assert secret in [h["asset_id"] for h in mine["similar_to"].data["hits"]]
    assert "image" in mine["stats"].data["by_media_type"]
    assert mine["get_asset"].error is None and mine["asset_resource"] is None
    assert mine["thumbnail"].error is None and mine["thumbnail_resource"] is None
