from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from PIL import Image, ImageEnhance

from dataflux_pipeline.analyzers.near_duplicates import near_duplicates
from dataflux_pipeline.cli.ingest import ingest
from dataflux_pipeline.cli.samples import write_image
from dataflux_pipeline.storage.tables import TableStore


def test_hamming_distance_pairs() -> None:
    catalog = [("a", "ffff000000000000"), ("b", "ffff000000000003"), ("c", "0000ffffffffffff")]
    new = [("n", "ffff000000000001")]
    assert near_duplicates(new, catalog, 2) == [("n", "a", 1), ("n", "b", 1)]
    assert near_duplicates([("a", "ffff000000000000")], catalog, 0) == []  # itself excluded


def ingest_one(settings, instance) -> str:
    """Ingest what is new in the landing folder: one batch, run to the end."""
    report = ingest(settings, instance)
    assert report.failed_runs == [] and len(report.partitions) == 1, report
    return report.partitions[0]


@pytest.mark.slow
def test_near_duplicates_found_across_batches(settings, tmp_path: Path) -> None:
    settings.landing.mkdir(parents=True)
    original = write_image(settings.landing / "harbour.jpg", (30, 90, 160), size=(640, 480))
    with dg.instance_for_test() as instance:
        first = ingest_one(settings, instance)
        copy = Image.open(original).resize((320, 240))
        ImageEnhance.Brightness(copy).enhance(1.1).save(
            settings.landing / "harbour_small.jpg", quality=60
        )
        write_image(settings.landing / "desert.jpg", (220, 180, 90), size=(640, 480), seed=5)
        second = ingest_one(settings, instance)
    tables = TableStore(settings.tables)
    names = dict(tables.read("assets").select("asset_id", "file_name").iter_rows())
    rel = tables.read("relationships").filter(pl.col("kind") == "near_duplicate")
    found = {
        (names[s], names[t], p)
        for s, t, p in rel.select("source_id", "target_id", "partition").iter_rows()
    }
    assert found == {("harbour_small.jpg", "harbour.jpg", second)}
    assert rel["distance"][0] <= settings.near_duplicate_max_distance
    assert first != second
