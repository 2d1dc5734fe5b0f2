from __future__ import annotations

from importlib.metadata import EntryPoint
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from sqlalchemy import select

from dataflux_pipeline.analyzers import MediaItem, analyze_file, registry
from dataflux_pipeline.catalog import Catalog
from dataflux_pipeline.catalog.models import Asset
from dataflux_pipeline.cli.ingest import ingest
from dataflux_pipeline.cli.samples import Shot, write_image, write_video
from dataflux_pipeline.storage.index import IndexReader
from dataflux_pipeline.storage.tables import TableStore


def test_entry_point_plugins_join_the_registry(settings, monkeypatch, tmp_path: Path) -> None:
    ep = EntryPoint("csv", "tests.support.plugin_example:CsvAnalyzer", registry.ENTRY_POINT_GROUP)
    broken = EntryPoint("broken", "tests.no_such_module:Nope", registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [ep, broken])
    reg = registry.default_registry(settings)
    assert reg.for_mime("text/csv").name == "csv-rows"
    assert reg.for_mime("video/mp4").name == "video"
    table = tmp_path / "t.csv"
    table.write_text("a,b\n1,2\n3,4\n")
    result = analyze_file(MediaItem(table, "c" * 64, "text/csv", tmp_path), reg)
    assert [s.text for s in result.segments] == ["1,2", "3,4"]


@pytest.mark.slow
def test_clip_embeds_keyframes_and_images_when_configured(settings, tiny_clip: Path) -> None:
    settings = settings.model_copy(update={"clip_model": str(tiny_clip)})
    write_video(settings.landing / "clip.mp4", [Shot(30, (200, 30, 30)), Shot(30, (30, 30, 200))])
    write_image(settings.landing / "photo.jpg", (20, 200, 20))
    with dg.instance_for_test() as instance:
        report = ingest(settings, instance)
    assert report.failed_runs == [] and report.pending == []
    [key] = report.partitions
    with Catalog.open(settings.database).reading() as s:
        assets = {a.file_name: a for a in s.scalars(select(Asset))}
    assert set(assets) == {"clip.mp4", "photo.jpg"}
    for asset in assets.values():
        assert (asset.status, asset.live, asset.error) == ("indexed", True, None)
        assert asset.analysis_partition == key
    emb = TableStore(settings.tables).read("embeddings", key)
    clip = emb.filter(pl.col("space") == "clip")
    assert clip.height == 3  # two keyframes and one image
    per_asset = dict(clip.group_by("asset_id").len().iter_rows())
    assert per_asset == {assets["clip.mp4"].asset_id: 2, assets["photo.jpg"].asset_id: 1}
    assert set(clip["dim"]) == {16} and set(clip["model"]) == {tiny_clip.name}
    assert IndexReader(settings.lancedb).count("clip") == 3
