"""Captions through what a person does beside a photo: a note that becomes a photo's
caption, a copy of the photo without it, the photo going and leaving its caption behind,
the caption going. After each step the caption's words find what holds them, and only
that, and the catalog, tables and index agree."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from dataflux_pipeline.catalog.models import Event
from dataflux_pipeline.cli.samples import write_image
from tests.catalog.home import Home, home_at
from tests.catalog.test_lifecycle import agrees, by_name

pytestmark = pytest.mark.slow

CAPTION = "A flat white on the terrace of the harbour cafe, morning sun."
QUERY = "flat white coffee on a terrace"


def found(home: Home) -> list[str]:
    return [h["file_name"] for h in home.search(QUERY)]


def kinds_of(home: Home, asset_id: str) -> list[str]:
    hit = next(h for h in home.search(QUERY) if h["asset_id"] == asset_id)
    return [s["kind"] for s in hit["segments"]]


def captioned_photo(home: Home) -> str:
    """`coffee.jpg` with its caption `coffee.txt`, taken; the photo's content id."""
    write_image(home.landing / "coffee.jpg", (90, 60, 30), seed=1)
    home.put("coffee.txt", CAPTION)
    home.ingest()
    return by_name(home, "coffee.jpg")


def test_a_note_that_becomes_a_photos_caption_stops_being_a_document(tmp_path: Path) -> None:
    with home_at(tmp_path) as home:
        home.put("cafe/coffee.txt", CAPTION)
        home.ingest()
        note = by_name(home, "coffee.txt")
        write_image(home.landing / "cafe/coffee.jpg", (120, 80, 40))
        home.ingest()
        photo = by_name(home, "coffee.jpg")
        assert home.live() == {photo: "coffee.jpg"}  # the note was live here before
        assert found(home) == ["coffee.jpg"]
        with home.catalog.reading() as s:
            events = s.scalars(select(Event.kind).where(Event.asset_id == note)).all()
        assert "became_sidecar" in events
        home.remove("cafe/coffee.jpg")
        home.remove("cafe/coffee.txt")
        home.ingest()
        assert home.live() == {} and found(home) == []
        agrees(home)


def test_a_copy_of_a_captioned_photo_keeps_the_caption(tmp_path: Path) -> None:
    with home_at(tmp_path) as home:
        photo = captioned_photo(home)
        analyses = home.table("analyses").height
        assert "description" in kinds_of(home, photo)
        home.copy("coffee.jpg", "backup/coffee.jpg")
        home.ingest()
        # a copy only gains a path: no new analysis, and the caption still finds the photo
        assert home.table("analyses").height == analyses
        assert home.paths(photo) == ["backup/coffee.jpg", "coffee.jpg"]
        assert "description" in kinds_of(home, photo)
        agrees(home)


def test_a_caption_whose_photo_goes_becomes_a_note(tmp_path: Path) -> None:
    with home_at(tmp_path) as home:
        photo = captioned_photo(home)
        home.remove("coffee.jpg")
        home.ingest()
        note = by_name(home, "coffee.txt")
        assert home.live() == {note: "coffee.txt"} and photo not in home.live()
        assert found(home) == ["coffee.txt"]
        home.ingest()  # and stays one file, taken once
        assert home.live() == {note: "coffee.txt"}
        agrees(home)


def test_a_removed_caption_leaves_the_photo_with_copied_originals(tmp_path: Path) -> None:
    """With copies of the originals kept, the caption's stored copy outlives its file: the
    re-analysis its removal asks for must not read it again."""
    with home_at(tmp_path, copy_originals=True) as home:
        photo = captioned_photo(home)
        assert "description" in kinds_of(home, photo)
        home.remove("coffee.txt")
        home.ingest()  # the removal asks for a re-analysis, which this ingest runs
        assert home.live() == {photo: "coffee.jpg"}
        assert home.asset(photo).details["sidecars"] == {}
        hits = {h["asset_id"]: h for h in home.search(QUERY)}
        assert photo not in hits or "description" not in kinds_of(home, photo)
        agrees(home)


def test_a_reanalysis_keeps_the_caption_in_the_relationships(tmp_path: Path) -> None:
    """A re-analysis partition takes no files, so its intake rows name no sidecar, and the
    replaced partition's rows are purged: the caption's relationship used to go with them."""
    import polars as pl

    from dataflux_pipeline.catalog.requests import request_reanalysis

    def captions(home: Home, photo: str) -> list[str]:
        rows = home.table("relationships").filter(
            (pl.col("source_id") == photo) & (pl.col("kind") == "metadata")
        )
        return rows["target_uri"].to_list()

    with home_at(tmp_path) as home:
        photo = captioned_photo(home)
        assert captions(home, photo) == ["landing:coffee.txt"]
        request_reanalysis(home.catalog, [photo], actor="ana")
        first = home.asset(photo).analysis_partition
        home.ingest()
        assert home.asset(photo).analysis_partition != first
        assert captions(home, photo) == ["landing:coffee.txt"]
        agrees(home)
