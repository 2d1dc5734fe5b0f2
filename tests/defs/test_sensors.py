from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from dataflux_pipeline.defs.resources import resources_for
from dataflux_pipeline.defs.sensors.landing import landing_sensor
from dataflux_pipeline.defs.sensors.sweep import daily_sweep
from dataflux_pipeline.intake.batches import Ledger, decode_pending


def tick(instance, settings, cursor=None) -> dg.SensorResult:
    ctx = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources=resources_for(settings)
    )
    result = landing_sensor(ctx)
    for req in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
    return result


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
        assert instance.get_dynamic_partitions("batches") == [req.partition_key]
        batch = Ledger(settings.batches).read(req.partition_key)
        assert [f.path for f in batch.files] == ["clip.txt", "song.wav"]
        assert batch.files[1].sidecars == {"metadata": "song.json"}
        again = tick(instance, settings, first.cursor)
        assert again.run_requests == []
        assert instance.get_dynamic_partitions("batches") == [req.partition_key]
        (settings.landing / "clip.txt").write_text("new content, same name")
        newer = tick(instance, settings, again.cursor)
        assert len(newer.run_requests) == 1
        assert newer.run_requests[0].partition_key != req.partition_key


def test_growing_file_waits_until_stable(settings) -> None:
    settings = settings.model_copy(update={"settle_seconds": 60.0})
    settings.landing.mkdir(parents=True)
    growing = settings.landing / "big.txt"
    growing.write_text("part one")
    with dg.instance_for_test() as instance:
        first = tick(instance, settings)
        assert first.run_requests == []
        assert set(decode_pending(first.cursor)) == {"big.txt"}
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


def test_manifest_without_partition_is_relaunched(settings) -> None:
    """A tick that died after writing its manifest must not lose the batch."""
    settings.landing.mkdir(parents=True)
    (settings.landing / "a.txt").write_text("a")
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance, resources=resources_for(settings))
        lost = landing_sensor(ctx)  # its partition request is never applied
        retry = tick(instance, settings, lost.cursor)
        assert [r.partition_key for r in retry.run_requests] == [
            r.partition_key for r in lost.run_requests
        ]


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
        assert Path(settings.batches / f"{keys[0]}.json").exists()
