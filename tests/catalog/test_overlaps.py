"""When two things happen to one content at once: a purge and the file put back, a
re-run of an old partition and a re-analysis in flight, a re-analysis that fails while
the previous analysis is being served."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import dataflux_pipeline.catalog.purge as purging
from dataflux_pipeline.catalog import Catalog
from dataflux_pipeline.catalog.analysis import Outcome, record_analysis
from dataflux_pipeline.catalog.models import Asset
from dataflux_pipeline.catalog.purge import due, purge
from dataflux_pipeline.storage.objects import Storage
from dataflux_pipeline.storage.tables import TableStore
from tests.catalog.home import home_at
from tests.catalog.test_lifecycle import RECIPE, agrees, by_name, top


@pytest.mark.slow
def test_a_file_put_back_during_its_purge_is_analyzed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The purge used to drop the rows of a content that came back while it ran, and then
    mark it purged: live, with no analysis, for good."""
    with home_at(tmp_path / "home") as home:
        path = home.put("inbox/recipe.txt", RECIPE)
        home.ingest()
        recipe = by_name(home, "recipe.txt")
        shutil.move(path, tmp_path / "recipe.txt")
        home.tick()
        ids = due(home.catalog, retention_s=0)
        assert ids == [recipe]
        drop = purging._drop_rows

        def put_back_first(*args, **kwargs) -> None:
            shutil.move(tmp_path / "recipe.txt", path)
            home.ingest()  # taken, claimed and analyzed while the purge is under way
            drop(*args, **kwargs)

        monkeypatch.setattr(purging, "_drop_rows", put_back_first)
        settings = home.settings
        purge(home.catalog, TableStore(settings.tables), Storage(settings.store_uri), ids)
        monkeypatch.undo()
        asset = home.asset(recipe)
        assert asset.live and asset.purged_at is None and asset.analysis_partition
        assert home.rows_of(recipe)["analyses"] == 1  # the new analysis's rows stayed
        assert asset.reanalyze  # its thumbnails may have gone with the purge: once more
        home.ingest()
        assert home.live() == {recipe: "recipe.txt"}
        assert top(home, "how long to knead bread dough") == "recipe.txt"
        agrees(home)


def test_a_failed_rerun_of_an_old_partition_keeps_a_reanalysis_claim(tmp_path: Path) -> None:
    catalog = Catalog.open(f"sqlite:///{tmp_path / 'catalog.db'}")
    with catalog.session() as s:
        s.add(
            Asset(
                asset_id="a" * 64,
                status="analyzed",
                details={},
                analyzers={},
                analysis_partition="20261201-old",
                pending_partition="re-20261201-new",  # a re-analysis, claimed
                live=True,
            )
        )
    record_analysis(catalog, "20261201-old", {"a" * 64: Outcome("failed", "decoder crashed")})
    asset = catalog.get("a" * 64)
    assert asset.pending_partition == "re-20261201-new"  # still the re-analysis's to do
    assert asset.status == "failed" and asset.error == "decoder crashed"
    record_analysis(catalog, "re-20261201-new", {"a" * 64: Outcome("failed", "again")})
    assert catalog.get("a" * 64).pending_partition is None


@pytest.mark.slow
def test_a_failed_reanalysis_keeps_the_thumbnails_search_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thumbnails are one folder per content: a re-analysis used to clear it before
    analyzing, so one that failed left the analysis still served pointing at nothing."""
    import dataflux_pipeline.defs.assets.analysis as analysis_step
    from dataflux_pipeline.analyzers import AnalysisError
    from dataflux_pipeline.catalog.requests import request_reanalysis
    from dataflux_pipeline.cli.samples import write_image

    with home_at(tmp_path) as home:
        write_image(home.landing / "harbour.jpg", (30, 90, 160), seed=3)
        home.put("harbour.txt", "Fishing boats in the harbour at dawn.")
        home.ingest()
        photo = by_name(home, "harbour.jpg")
        served = home.asset(photo).analysis_partition
        (thumb,) = [h["thumbnail"] for h in home.search("fishing boats at dawn")]
        image = (home.settings.store / thumb).read_bytes()

        def broken(item, registry):
            raise AnalysisError("the decoder gave up")

        monkeypatch.setattr(analysis_step, "analyze_file", broken)
        request_reanalysis(home.catalog, [photo], actor="ana")
        home.ingest()
        asset = home.asset(photo)
        assert asset.analysis_partition == served and "decoder gave up" in asset.error
        assert (home.settings.store / thumb).read_bytes() == image
        monkeypatch.undo()
        request_reanalysis(home.catalog, [photo], actor="ana")
        home.ingest()  # one that succeeds replaces them
        assert home.asset(photo).analysis_partition != served
        assert (home.settings.store / thumb).is_file()
        assert not list((home.settings.store / "thumbnails" / ".staging").rglob("*.jpg"))
        agrees(home)
