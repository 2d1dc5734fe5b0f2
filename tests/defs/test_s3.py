"""The catalog on S3: a real S3 HTTP endpoint on loopback (moto's server), the sources
sensor watching an S3 prefix, a full partition, and the service reading the results
back from S3."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator

import boto3
import dagster as dg
import httpx
import polars as pl
import pytest
import uvicorn

from dataflux_pipeline.catalog import Catalog
from dataflux_pipeline.cli.demo import free_port
from dataflux_pipeline.cli.samples import RECIPE_MD, Shot, write_srt, write_video
from dataflux_pipeline.defs.assets.analysis import analysis
from dataflux_pipeline.defs.assets.embeddings import embeddings
from dataflux_pipeline.defs.assets.index import search_index
from dataflux_pipeline.defs.assets.intake import intake
from dataflux_pipeline.defs.resources import resources_for
from dataflux_pipeline.defs.sensors.sources import sources_sensor
from dataflux_pipeline.intake.batches import Ledger
from dataflux_pipeline.serving.app import create_app
from dataflux_pipeline.settings import Settings
from dataflux_pipeline.storage.index import IndexReader
from dataflux_pipeline.storage.objects import filesystem
from dataflux_pipeline.storage.tables import TableStore

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def s3() -> Iterator:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"])
    client.create_bucket(Bucket="media")
    yield client
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    server.stop()


def tick(settings: Settings, instance, cursor=None) -> dg.SensorResult:
    ctx = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources=resources_for(settings)
    )
    result = sources_sensor(ctx)
    for req in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
    return result


def serve(settings: Settings):
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("copy_originals", [False, True], ids=["referenced", "copied"])
def test_full_partition_on_s3_and_served_from_it(s3, tmp_path, copy_originals) -> None:
    """Originals stay in the landing prefix by default (the steps fetch them while they
    run); with DATAFLUX_COPY_ORIGINALS they are copied into the S3 object store."""
    catalog_root = f"catalog-{'copied' if copy_originals else 'referenced'}"
    incoming = f"incoming-{'copied' if copy_originals else 'referenced'}"
    settings = Settings(
        home=tmp_path / "worker",
        storage_uri=f"s3://media/{catalog_root}",
        landing_uri=f"s3://media/{incoming}",
        copy_originals=copy_originals,
        settle_seconds=0.0,
    )
    video = write_video(tmp_path / "v.mp4", [Shot(30, (200, 40, 40)), Shot(30, (40, 40, 200))])
    srt = write_srt(tmp_path / "v.srt", [(0.2, 1.0, "The lighthouse keeper waves at a ship.")])
    s3.put_object(
        Bucket="media",
        Key=f"{incoming}/2026/clip.mp4",
        Body=video and (tmp_path / "v.mp4").read_bytes(),
    )
    s3.put_object(Bucket="media", Key=f"{incoming}/2026/clip.srt", Body=srt.read_bytes())
    s3.put_object(Bucket="media", Key=f"{incoming}/2026/bread.md", Body=RECIPE_MD.encode())
    resources = resources_for(settings)
    with dg.instance_for_test() as instance:
        first = tick(settings, instance)
        (request,) = first.run_requests
        assert first.run_requests[0].tags["dataflux/files"] == "2"  # the .srt is a sidecar
        result = dg.materialize(
            [intake, analysis, embeddings],
            partition_key=request.partition_key,
            instance=instance,
            resources=resources,
        )
        assert result.success
        # the pipeline stopped before the index: the service must show a whole, older state
        server, url = serve(settings)
        try:
            tables = TableStore(settings.tables)
            assets = tables.read("assets")
            assert sorted(assets["uri"]) == [
                f"s3://media/{incoming}/2026/bread.md",
                f"s3://media/{incoming}/2026/clip.mp4",
            ]
            assert set(assets["outcome"]) == {"ok"}
            live = Catalog.open(settings.database)
            assert live.counts() == {"analyzed": 2}
            hits = httpx.post(f"{url}/search", json={"query": "baking a loaf"}, timeout=60)
            assert hits.status_code == 200 and hits.json()["results"] == []
            assert dg.materialize(
                [search_index],
                partition_key=request.partition_key,
                instance=instance,
                resources=resources,
            ).success
            deadline = time.monotonic() + 15  # new index versions are seen within a refresh
            while True:
                hits = httpx.post(f"{url}/search", json={"query": "baking a loaf"}, timeout=60)
                if hits.json()["results"] or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert hits.json()["results"][0]["file_name"] == "bread.md"
            assert live.counts() == {"indexed": 2}
            video_id = assets.filter(pl.col("file_name") == "clip.mp4")["asset_id"][0]
            detail = httpx.get(f"{url}/assets/{video_id}", timeout=30).json()
            cue = next(s for s in detail["segments"] if s["kind"] == "cue")
            assert cue["text"] == "The lighthouse keeper waves at a ship."
        finally:
            server.should_exit = True
        second = tick(settings, instance, first.cursor)
        assert second.run_requests == []
        assert f'"start_after": "{incoming}/2026/clip.srt"' in second.cursor
        s3.put_object(Bucket="media", Key=f"{incoming}/2027/notes.txt", Body=b"Tide tables.")
        third = tick(settings, instance, second.cursor)
        (request,) = third.run_requests
        assert request.tags["dataflux/files"] == "1"
    fs, root = filesystem(f"s3://media/{catalog_root}")
    assert fs.glob(f"{root}/tables/assets/*/data.parquet")
    # with copies: the video, its subtitles and the recipe; referenced: none
    assert len(fs.glob(f"{root}/store/objects/*/*")) == (3 if copy_originals else 0)
    assert len(fs.glob(f"{root}/store/thumbnails/*/*/*.jpg")) == 2  # one keyframe per shot
    assert IndexReader(settings.lancedb).count("text") == 4  # one cue + three chunks
    worker = tmp_path / "worker"
    assert not (worker / "lancedb").exists() and not (worker / "tables").exists()
    assert not [p for p in (worker / "incoming").rglob("*") if p.is_file()]  # staged copies


def test_a_subtitle_that_arrives_after_its_video_is_paired_with_it(s3, tmp_path) -> None:
    """Between full listings the sensor lists only the keys after the last one it took,
    and paired within those: the late subtitle became a document of its own."""
    prefix = f"late-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        home=tmp_path / "data", landing_uri=f"s3://media/{prefix}", settle_seconds=0.0
    )
    with dg.instance_for_test() as instance:
        s3.put_object(Bucket="media", Key=f"{prefix}/clip.mp4", Body=b"\x00" * 100)
        first = tick(settings, instance)
        (req,) = first.run_requests
        assert [f.path for f in Ledger(settings.batches).read(req.partition_key).files] == [
            "clip.mp4"
        ]
        cue = b"1\n00:00:00,000 --> 00:00:01,000\nThe lighthouse keeper waves.\n"
        s3.put_object(Bucket="media", Key=f"{prefix}/clip.srt", Body=cue)
        second = tick(settings, instance, first.cursor)
        (req,) = second.run_requests
        (taken,) = Ledger(settings.batches).read(req.partition_key).files
        assert taken.path == "clip.mp4" and taken.sidecars == {"subtitle": "clip.srt"}
