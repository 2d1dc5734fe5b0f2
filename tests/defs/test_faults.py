"""SIGKILL in the middle of each step's write, then a re-run: exactly the rows and the live
catalog of a clean run, no temp files, no duplicate index rows, no thumbnails that nothing
references, no partition lock left behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from sqlalchemy import select

from dataflux_pipeline.catalog import Catalog
from dataflux_pipeline.catalog.models import Asset, PartitionLock, SourcePath
from dataflux_pipeline.cli.samples import RECIPE_MD, Shot, write_image, write_srt, write_video
from dataflux_pipeline.db import database_for
from dataflux_pipeline.definitions import defs
from dataflux_pipeline.defs.resources import resources_for
from dataflux_pipeline.defs.sensors.sources import sources_sensor
from dataflux_pipeline.settings import Settings
from dataflux_pipeline.storage.index import IndexReader
from dataflux_pipeline.storage.tables import TableStore

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
TABLES = [
    "assets",
    "segments",
    "features_video",
    "features_image",
    "features_document",
    "descriptors",
    "analyses",
    "embeddings",
    "relationships",
]


def snapshot(settings: Settings) -> dict:
    store = TableStore(settings.tables)
    out: dict = {t: store.read(t).height for t in TABLES}
    segments = store.read("segments")
    out["segment_ids_unique"] = segments["segment_id"].n_unique() == segments.height
    index = IndexReader(settings.lancedb)
    for space in index.spaces():
        ids = index.table(space).to_arrow()["segment_id"].to_pylist()
        out[f"index_{space}"] = (len(ids), len(set(ids)))
    with Catalog.open(settings.database).reading() as s:
        out["catalog"] = sorted(
            (a.file_name, a.status, a.live, a.analysis_partition, a.pending_partition, a.error)
            for a in s.scalars(select(Asset))
        )
        out["index_dirty"] = sorted(s.scalars(select(Asset.file_name).where(Asset.index_dirty)))
        out["paths"] = sorted(s.execute(select(SourcePath.path, SourcePath.state)).tuples())
        out["locks"] = list(s.scalars(select(PartitionLock.partition)))
    referenced = set(segments.filter(pl.col("thumbnail").is_not_null())["thumbnail"])
    on_disk = {
        p.relative_to(settings.store).as_posix()
        for p in (settings.store / "thumbnails").rglob("*")
        if p.is_file()
    }
    out["orphan_thumbnails"] = sorted(on_disk - referenced)
    out["tmp_files"] = sorted(p.name for p in settings.home.rglob("*.tmp"))
    return out


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> tuple[Path, str, dict]:
    """A home as the sources sensor leaves it (landing set, manifest, pending paths in the
    catalog) before any run, and the snapshot of one clean run of its partition."""
    base = tmp_path_factory.mktemp("faults")
    settings = Settings(home=base / "clean", settle_seconds=0.0)
    land = settings.landing
    write_video(land / "clip.mp4", [Shot(30, (220, 30, 30)), Shot(30, (30, 30, 220))])
    write_srt(land / "clip.srt", [(0.1, 1.0, "A red room, then a blue room.")])
    write_image(land / "photo.jpg", (20, 160, 60))
    (land / "recipe.md").write_text(RECIPE_MD)
    (base / "dagster-clean").mkdir()
    with dg.instance_for_test(temp_dir=str(base / "dagster-clean")) as instance:
        ctx = dg.build_sensor_context(instance=instance, resources=resources_for(settings))
        (request,) = sources_sensor(ctx).run_requests
        key = request.partition_key
        database_for(settings.database).dispose()  # the database file whole, for copies
        shutil.copytree(settings.home, base / "before-run", symlinks=True)
        instance.add_dynamic_partitions("batches", [key])
        job = defs.resolve_job_def("ingest")
        assert job.execute_in_process(
            partition_key=key, instance=instance, resources=resources_for(settings)
        ).success
    return base / "before-run", key, snapshot(settings)


@pytest.mark.parametrize(
    "kill_at",
    [
        "assets",
        "segments",
        "features_video",
        "descriptors",
        "analyses",
        "embeddings",
        "index",
        "relationships",
    ],
)
def test_rerun_after_sigkill_matches_a_clean_run(prepared, kill_at, tmp_path: Path) -> None:
    before_run, key, expected = prepared
    home = tmp_path / "data"
    shutil.copytree(before_run, home, symlinks=True)
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    settings = Settings(home=home, settle_seconds=0.0)
    with dg.instance_for_test(temp_dir=str(dagster_home)) as instance:
        instance.add_dynamic_partitions("batches", [key])
        env = os.environ | {"DAGSTER_HOME": str(dagster_home), "PYTHONPATH": str(ROOT)}
        proc = subprocess.run(
            [sys.executable, "-m", "tests.support.fault_driver", str(home), key, kill_at],
            env=env,
            cwd=ROOT,
            capture_output=True,
            timeout=300,
        )
        assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
        rerun = defs.resolve_job_def("ingest").execute_in_process(
            partition_key=key, instance=instance, resources=resources_for(settings)
        )
        assert rerun.success
    assert snapshot(settings) == expected
