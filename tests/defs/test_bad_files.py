"""Every bad or awkward file from the reliability issue, in one batch through the real job:
each bad one is recorded with a reason, every good one lands."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator

import dagster as dg
import polars as pl
import pytest
from sqlalchemy import select

from dataflux_pipeline.catalog import Catalog
from dataflux_pipeline.catalog.models import Asset, SourcePath
from dataflux_pipeline.cli.samples import Shot, write_pdf, write_video
from dataflux_pipeline.definitions import defs
from dataflux_pipeline.defs.resources import resources_for
from dataflux_pipeline.defs.sensors.sources import sources_sensor
from dataflux_pipeline.settings import Settings
from dataflux_pipeline.storage.tables import TableStore
from tests.support.badfiles import truncate, write_audio, write_silence_flac

pytestmark = pytest.mark.slow
LONG_NAME = "a" * 240 + ".txt"
NON_UTF8 = b"caf\xe9 menu.txt"


def catalog_of(settings: Settings) -> dict[str, Asset]:
    """Every content in the live catalog, by the name it is shown under."""
    with Catalog.open(settings.database).reading() as s:
        return {a.file_name: a for a in s.scalars(select(Asset))}


def path_state(settings: Settings, path: str) -> str | None:
    with Catalog.open(settings.database).reading() as s:
        return s.scalar(
            select(SourcePath.state).where(
                SourcePath.source_id == "landing", SourcePath.path == path
            )
        )


def run_partition(settings: Settings, instance, before_run=None) -> str:
    ctx = dg.build_sensor_context(instance=instance, resources=resources_for(settings))
    result = sources_sensor(ctx)
    for req in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
    (request,) = result.run_requests
    if before_run:
        before_run()
    run = defs.resolve_job_def("ingest").execute_in_process(
        partition_key=request.partition_key, instance=instance, resources=resources_for(settings)
    )
    assert run.success
    return request.partition_key


@pytest.fixture(scope="module")
def outcome(tmp_path_factory) -> Iterator[tuple[Settings, dict[str, dict], dg.DagsterInstance]]:
    """The settings, the batch's intake records by file name, and the Dagster instance."""
    root = tmp_path_factory.mktemp("bad")
    settings = Settings(home=root / "data", settle_seconds=0.0, max_file_bytes=8_000_000)
    land = settings.landing
    land.mkdir(parents=True)
    video = write_video(root / "v.mp4", [Shot(40, (200, 40, 40)), Shot(40, (40, 40, 200))]) and (
        root / "v.mp4"
    )
    truncate(video, land / "truncated.mp4")
    (land / "empty.mp4").touch()
    mp3 = write_audio(root / "a.mp3", "libmp3lame", 20.0)
    truncate(mp3, land / "truncated.mp3", 0.5)
    pdf = write_pdf(root / "p.pdf", ["page one text", "page two text"])
    truncate(pdf, land / "truncated.pdf", 0.3)
    write_pdf(land / "disguised.mp4", ["a PDF wearing a video's name"])
    (land / "noise.jpg").write_bytes(os.urandom(5000))
    with zipfile.ZipFile(land / "archive.zip", "w") as zf:
        zf.writestr("inner.txt", "zipped")
    (land / "huge.txt").write_text("big " * 2_300_000)
    write_video(land / "silent_video.mp4", [Shot(30, (90, 90, 90))], audio_hz=None)
    write_audio(land / "audio_only.mp4", "aac", 6.0)
    write_video(land / "one_frame.mp4", [Shot(1, (10, 200, 10))], audio_hz=None)
    write_silence_flac(land / "ten_hours_silence.flac", 10)
    (land / LONG_NAME).write_text("a file with a very long name about lighthouses")
    with open(os.path.join(os.fsencode(land), NON_UTF8), "w") as f:
        f.write("the menu of a small cafe")
    outside = root / "secret.txt"
    outside.write_text("must not be read")
    (land / "escape.txt").symlink_to(outside)
    (land / "vanishing.txt").write_text("deleted before the run reads it")
    with dg.instance_for_test() as instance:
        key = run_partition(settings, instance, lambda: (land / "vanishing.txt").unlink())
        records = TableStore(settings.tables).read("assets", key).to_dicts()
        yield settings, {r["file_name"]: r for r in records}, instance


@pytest.mark.parametrize(
    ("name", "status", "reason"),
    [
        ("empty.mp4", "failed", "empty (0 bytes)"),
        ("truncated.mp4", "failed", ""),
        ("truncated.mp3", "failed", "truncated"),
        ("truncated.pdf", "failed", "PDF"),
        ("disguised.mp4", "failed", "application/pdf"),
        ("noise.jpg", "failed", "not a readable image"),
        ("archive.zip", "skipped", "unsupported file type application/zip"),
        ("huge.txt", "failed", "over the limit"),
        ("ten_hours_silence.flac", "failed", "DATAFLUX_MAX_DURATION_S"),
        ("escape.txt", "failed", "leads outside its source"),
    ],
)
def test_bad_file_is_recorded_with_a_reason(outcome, name, status, reason) -> None:
    settings, records, _ = outcome
    asset = catalog_of(settings)[name]
    assert asset.status == status
    assert reason in asset.error and len(asset.error) > 5
    assert asset.live  # still shown, with its reason, while the file is there
    assert asset.analysis_partition is None
    record = records[name]
    if record["outcome"] != "ok":  # refused at intake: the record says why too
        assert record["outcome"] == status and record["error"] == asset.error


def test_file_gone_before_the_run_is_missing_not_failed(outcome) -> None:
    """A file deleted between the tick and the run is recorded as missing; it never
    becomes content, and the next tick marks its path removed."""
    settings, records, instance = outcome
    assert records["vanishing.txt"]["outcome"] == "missing"
    assert "gone" in records["vanishing.txt"]["error"]
    assert "vanishing.txt" not in catalog_of(settings)
    assert path_state(settings, "vanishing.txt") == "pending"
    ctx = dg.build_sensor_context(instance=instance, resources=resources_for(settings))
    sources_sensor(ctx)
    assert path_state(settings, "vanishing.txt") == "removed"


def test_awkward_but_good_files_land(outcome) -> None:
    settings, records, _ = outcome
    assets = catalog_of(settings)
    for name in ("silent_video.mp4", "audio_only.mp4", "one_frame.mp4", LONG_NAME):
        assert assets[name].status == "indexed", (name, assets[name].error)
        assert records[name]["outcome"] == "ok"
    # a name that is not UTF-8 lands too, kept under an escaped (reversible) key
    menu = records[NON_UTF8.decode("utf-8", "replace")]
    assert menu["outcome"] == "ok" and menu["path"] == "caf\\xe9 menu.txt"
    assert assets["caf\\xe9 menu.txt"].status == "indexed"
    assert assets["caf\\xe9 menu.txt"].asset_id == menu["asset_id"]
    assert assets["audio_only.mp4"].media_type == "audio"
    segments = TableStore(settings.tables).read("segments")
    one = segments.filter(pl.col("asset_id") == assets["one_frame.mp4"].asset_id)
    assert one.filter(pl.col("kind") == "shot").height == 1
    silent = segments.filter(pl.col("asset_id") == assets["silent_video.mp4"].asset_id)
    assert set(silent["kind"]) == {"shot", "keyframe"}
    # the link out of the landing folder was refused before a byte of it was read
    assert records["escape.txt"]["sha256"] is None
    assert "secret.txt" not in {p.name for p in settings.store.rglob("*")}
    assert not any("must not be read" in (t or "") for t in segments["text"].to_list())


def test_same_name_with_new_content_is_a_new_asset(outcome) -> None:
    settings, records, instance = outcome
    old_id = records[LONG_NAME]["asset_id"]
    (settings.landing / LONG_NAME).write_text("new content under the same long name")
    key = run_partition(settings, instance)
    taken = TableStore(settings.tables).read("assets")
    named = taken.filter(pl.col("file_name") == LONG_NAME)
    assert named.height == 2 and old_id in named["asset_id"].to_list()
    new_id = named.filter(pl.col("partition") == key)["asset_id"][0]
    assert new_id != old_id
    live = Catalog.open(settings.database)
    new, old = live.get(new_id), live.get(old_id)
    assert new.status == "indexed" and new.live and new.analysis_partition == key
    assert not old.live and old.removed_at is not None  # the path holds other bytes now
    with live.reading() as s:
        holder = s.scalar(select(SourcePath.asset_id).where(SourcePath.path == LONG_NAME))
    assert holder == new_id
