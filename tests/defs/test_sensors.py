from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import select

from dataflux_pipeline.catalog import Catalog
from dataflux_pipeline.catalog.models import Asset, SourcePath
from dataflux_pipeline.defs.resources import resources_for
from dataflux_pipeline.defs.sensors.catalog import catalog_sensor
from dataflux_pipeline.defs.sensors.sources import sources_sensor
from dataflux_pipeline.defs.sensors.sweep import daily_sweep
from dataflux_pipeline.intake.batches import Ledger, decode_cursor
from dataflux_pipeline.settings import Settings, SourceConfig


def tick(instance, settings, cursor=None, sensor=sources_sensor) -> dg.SensorResult:
    ctx = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources=resources_for(settings)
    )
    result = sensor(ctx)
    for req in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
    return result


def paths(settings: Settings) -> dict[tuple[str, str], str]:
    """(source, path) -> state, as the live catalog has it."""
    with Catalog.open(settings.database).reading() as s:
        rows = s.execute(select(SourcePath.source_id, SourcePath.path, SourcePath.state))
        return {(src, path): state for src, path, state in rows}


def test_new_file_gives_one_partition_and_one_run(settings) -> None:
    settings.landing.mkdir(parents=True)
    (settings.landing / "clip.txt").write_text("hello")
    (settings.landing / "song.wav").write_bytes(b"RIFF")
    (settings.landing / "song.json").write_text("{}")
    with dg.instance_for_test() as instance:
        first = tick(instance, settings)
        assert len(first.run_requests) == 1
        req = first.run_requests[0]
        assert req.run_key == req.partition_key
        assert req.tags["dataflux/origin"] == "sensor"
        assert instance.get_dynamic_partitions("batches") == [req.partition_key]
        batch = Ledger(settings.batches).read(req.partition_key)
        assert [f.path for f in batch.files] == ["clip.txt", "song.wav"]
        assert {f.source for f in batch.files} == {"landing"}
        assert batch.files[1].sidecars == {"metadata": "song.json"}
        # the catalog knows the versions the batch took before any run starts
        assert paths(settings) == {
            ("landing", "clip.txt"): "pending",
            ("landing", "song.wav"): "pending",
            ("landing", "song.json"): "sidecar",
        }
        again = tick(instance, settings, first.cursor)
        assert again.run_requests == []
        assert instance.get_dynamic_partitions("batches") == [req.partition_key]
        (settings.landing / "clip.txt").write_text("new content, same name")
        newer = tick(instance, settings, again.cursor)
        assert len(newer.run_requests) == 1
        assert newer.run_requests[0].partition_key != req.partition_key
        (newest,) = Ledger(settings.batches).read(newer.run_requests[0].partition_key).files
        assert newest.path == "clip.txt" and newest.size == len("new content, same name")


def test_growing_file_waits_until_stable(settings) -> None:
    settings = settings.model_copy(update={"settle_seconds": 60.0})
    settings.landing.mkdir(parents=True)
    growing = settings.landing / "big.txt"
    growing.write_text("part one")
    with dg.instance_for_test() as instance:
        first = tick(instance, settings)
        assert first.run_requests == []
        assert set(decode_cursor(first.cursor)[0]["landing"]) == {"big.txt"}
        with growing.open("a") as f:
            f.write(" and part two")
        old = time.time() - 120
        os.utime(growing, (old, old))
        second = tick(instance, settings, first.cursor)
        assert second.run_requests == [], "size changed since the last tick: not stable yet"
        third = tick(instance, settings, second.cursor)
        assert len(third.run_requests) == 1
        batch = Ledger(settings.batches).read(third.run_requests[0].partition_key)
        assert batch.files[0].size == len("part one and part two")
        assert decode_cursor(third.cursor)[0]["landing"] == {}


def test_batches_are_bounded(settings) -> None:
    settings = settings.model_copy(update={"batch_size": 4})
    settings.landing.mkdir(parents=True)
    for n in range(10):
        (settings.landing / f"doc{n}.txt").write_text(f"document {n}")
    with dg.instance_for_test() as instance:
        result = tick(instance, settings)
        sizes = [int(r.tags["dataflux/files"]) for r in result.run_requests]
        assert sorted(sizes) == [2, 4, 4]
        assert len(set(instance.get_dynamic_partitions("batches"))) == 3


def test_every_source_is_watched(settings, tmp_path: Path) -> None:
    """The landing folder, the uploads area and an extra folder each make their own
    batches, and each file is recorded under its own source."""
    extra = tmp_path / "archive"
    extra.mkdir()
    (extra / "old.txt").write_text("from the archive")
    settings = settings.model_copy(
        update={"sources": [SourceConfig(name="archive", uri=str(extra))]}
    )
    settings.landing.mkdir(parents=True)
    (settings.landing / "new.txt").write_text("landed")
    (settings.uploads / "abc").mkdir(parents=True)
    (settings.uploads / "abc" / "up.txt").write_text("uploaded")
    with dg.instance_for_test() as instance:
        result = tick(instance, settings)
        taken = sorted(
            (f.source, f.path)
            for r in result.run_requests
            for f in Ledger(settings.batches).read(r.partition_key).files
        )
        assert taken == [("archive", "old.txt"), ("landing", "new.txt"), ("uploads", "abc/up.txt")]
        assert len(result.run_requests) == 3
        assert set(paths(settings).values()) == {"pending"}


def test_removed_file_leaves_the_catalog_in_the_same_tick(settings) -> None:
    settings.landing.mkdir(parents=True)
    (settings.landing / "keep.txt").write_text("stays")
    (settings.landing / "gone.txt").write_text("is removed")
    with dg.instance_for_test() as instance:
        first = tick(instance, settings)
        assert len(first.run_requests) == 1
        (settings.landing / "gone.txt").unlink()
        second = tick(instance, settings, first.cursor)
        assert second.run_requests == []
        assert paths(settings) == {
            ("landing", "keep.txt"): "pending",
            ("landing", "gone.txt"): "removed",
        }
        (settings.landing / "gone.txt").write_text("is put back")
        third = tick(instance, settings, second.cursor)
        (req,) = third.run_requests
        assert [f.path for f in Ledger(settings.batches).read(req.partition_key).files] == [
            "gone.txt"
        ]
        assert paths(settings)[("landing", "gone.txt")] == "pending"


def test_manifest_without_partition_is_relaunched(settings) -> None:
    """A tick that died after writing its manifest must not lose the batch."""
    settings.landing.mkdir(parents=True)
    (settings.landing / "a.txt").write_text("a")
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance, resources=resources_for(settings))
        lost = sources_sensor(ctx)  # its partition request is never applied
        assert len(lost.run_requests) == 1
        retry = tick(instance, settings, lost.cursor)
        assert [r.partition_key for r in retry.run_requests] == [
            r.partition_key for r in lost.run_requests
        ]
        assert instance.get_dynamic_partitions("batches") == [lost.run_requests[0].partition_key]


def test_daily_sweep_reruns_unfinished_partitions(settings) -> None:
    settings.landing.mkdir(parents=True)
    (settings.landing / "a.txt").write_text("a")
    with dg.instance_for_test() as instance:
        key = tick(instance, settings).run_requests[0].partition_key
        (settings.landing / "late.txt").write_text("missed by the sensor")
        ctx = dg.build_schedule_context(
            instance=instance,
            resources=resources_for(settings),
            scheduled_execution_time=datetime.now(UTC),
        )
        requests = daily_sweep(ctx)
        keys = [r.partition_key for r in requests]
        assert key in keys and len(keys) == 2
        (late,) = [k for k in keys if k != key]
        assert [f.path for f in Ledger(settings.batches).read(late).files] == ["late.txt"]
        assert Path(settings.batches / f"{keys[0]}.json").exists()
        assert set(instance.get_dynamic_partitions("batches")) == {key, late}


def test_catalog_sensor_turns_requests_into_runs(settings) -> None:
    """Re-analysis flags become a re-analysis partition claiming those contents; a change
    the index has not followed (no batch in flight) asks for a catalog_sync run."""
    live = Catalog.open(settings.database)
    with live.session() as s:
        s.add(Asset(asset_id="a" * 64, status="indexed", live=True, reanalyze=True))
        s.add(Asset(asset_id="b" * 64, status="indexed", live=True))
    with dg.instance_for_test() as instance:
        first = tick(instance, settings, sensor=catalog_sensor)
        (req,) = first.run_requests
        assert req.job_name is None and req.tags["dataflux/origin"] == "reanalysis"
        batch = Ledger(settings.batches).read(req.partition_key)
        assert batch.kind == "reanalysis" and batch.assets == ["a" * 64]
        assert instance.get_dynamic_partitions("batches") == [req.partition_key]
        assert live.get("a" * 64).pending_partition == req.partition_key
        assert not live.get("a" * 64).reanalyze
        assert tick(instance, settings, sensor=catalog_sensor).run_requests == []
        with live.session() as s:
            s.get(Asset, "b" * 64).index_dirty = True
            Catalog.bump(s)
        third = tick(instance, settings, sensor=catalog_sensor)
        (sync,) = third.run_requests
        assert sync.job_name == "catalog_sync"
        assert sync.run_key == f"sync-{live.generation()}"


def test_an_upload_is_taken_on_the_first_tick(settings, tmp_path) -> None:
    """The service renames a whole upload into place, so its area needs no settling, nor
    does a source configured with `settle_seconds: 0`; a file just written to the landing
    folder still waits."""
    synced = tmp_path / "synced"
    synced.mkdir()
    extra = SourceConfig(name="synced", uri=str(synced), settle_seconds=0)
    settings = settings.model_copy(update={"settle_seconds": 60.0, "sources": [extra]})
    settings.landing.mkdir(parents=True)
    settings.uploads.mkdir(parents=True)
    (settings.landing / "fresh.txt").write_text("still being copied")
    (settings.uploads / "upload.txt").write_text("renamed into place by the service")
    (synced / "synced.txt").write_text("moved into place whole by a sync tool")
    with dg.instance_for_test() as instance:
        first = tick(instance, settings)
        taken = []
        for req in first.run_requests:
            batch = Ledger(settings.batches).read(req.partition_key)
            taken += [(f.source, f.path) for f in batch.files]
        assert sorted(taken) == [("synced", "synced.txt"), ("uploads", "upload.txt")]
        assert set(decode_cursor(first.cursor)[0]["landing"]) == {"fresh.txt"}
        assert decode_cursor(first.cursor)[0]["uploads"] == {}


def test_the_daily_sweep_keeps_each_sources_settle_time(settings, tmp_path) -> None:
    """A slow share that says files need 10 minutes to hold still is not swept in earlier
    because the deployment's default is shorter; the landing folder's file is."""
    share = tmp_path / "share"
    share.mkdir()
    slow = SourceConfig(name="share", uri=str(share), settle_seconds=600)
    settings = settings.model_copy(update={"settle_seconds": 0.0, "sources": [slow]})
    settings.landing.mkdir(parents=True)
    (settings.landing / "done.txt").write_text("whole")
    (share / "copying.txt").write_text("half of it")
    with dg.instance_for_test() as instance:
        ctx = dg.build_schedule_context(
            instance=instance,
            resources=resources_for(settings),
            scheduled_execution_time=datetime.now(UTC),
        )
        taken = []
        for req in daily_sweep(ctx):
            taken += [
                (f.source, f.path) for f in Ledger(settings.batches).read(req.partition_key).files
            ]
        assert taken == [("landing", "done.txt")]


def sweep(instance, settings) -> list[dg.RunRequest]:
    ctx = dg.build_schedule_context(
        instance=instance,
        resources=resources_for(settings),
        scheduled_execution_time=datetime.now(UTC),
    )
    result = daily_sweep(ctx)
    return [] if isinstance(result, dg.SkipReason) else list(result)


def test_the_daily_sweep_leaves_an_unmounted_folder_alone(settings, tmp_path) -> None:
    """A folder that is not there (an unmounted disk) is not a folder emptied: the sensor
    knew it, the sweep took every path of it as removed."""
    settings.landing.mkdir(parents=True)
    (settings.landing / "a.txt").write_text("a")
    with dg.instance_for_test() as instance:
        tick(instance, settings)
        settings.landing.rename(tmp_path / "unmounted")
        sweep(instance, settings)
        assert paths(settings) == {("landing", "a.txt"): "pending"}


def test_the_daily_sweep_leaves_batches_that_a_run_is_on(settings) -> None:
    """Not indexed yet because a run is queued or running, not because it failed: a
    second run would analyze the batch twice, at the same time."""
    from dagster._core.test_utils import create_run_for_test

    settings.landing.mkdir(parents=True)
    (settings.landing / "a.txt").write_text("a")
    (settings.landing / "b.txt").write_text("b")
    with dg.instance_for_test() as instance:
        first = tick(instance, settings)
        (key,) = [r.partition_key for r in first.run_requests]
        (settings.landing / "c.txt").write_text("c")
        second = tick(instance, settings, first.cursor)
        (other,) = [r.partition_key for r in second.run_requests]
        create_run_for_test(
            instance,
            job_name="ingest",
            status=dg.DagsterRunStatus.STARTED,
            tags={"dagster/partition": key},
        )
        assert [r.partition_key for r in sweep(instance, settings)] == [other]


def test_a_tick_that_died_before_registering_its_batch_plans_it_once(settings, monkeypatch) -> None:
    from dataflux_pipeline.defs.sensors import launch

    settings.landing.mkdir(parents=True)
    (settings.landing / "a.txt").write_text("a")
    with dg.instance_for_test() as instance:
        register = launch.register_batch

        def blip(*args, **kwargs):
            raise RuntimeError("the database went away")

        monkeypatch.setattr(launch, "register_batch", blip)
        ctx = dg.build_sensor_context(instance=instance, resources=resources_for(settings))
        with pytest.raises(RuntimeError):
            sources_sensor(ctx)  # the manifest is written, the paths are not registered
        monkeypatch.setattr(launch, "register_batch", register)
        (req,) = tick(instance, settings).run_requests
        assert [f.path for f in Ledger(settings.batches).read(req.partition_key).files] == ["a.txt"]
        assert paths(settings) == {("landing", "a.txt"): "pending"}
