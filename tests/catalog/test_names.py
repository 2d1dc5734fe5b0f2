"""File and folder names are searchable words, and follow a rename without analysis; a
`.txt` beside a photo is its caption, not a document of its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataflux_pipeline.cli.samples import write_image
from tests.catalog.home import home_at

pytestmark = pytest.mark.slow


def test_names_are_words_and_a_caption_belongs_to_its_photo(tmp_path: Path) -> None:
    with home_at(tmp_path) as home:
        (home.landing / "trips/Italy").mkdir(parents=True)
        write_image(home.landing / "trips/Italy/IMG_2023-05-01_beach.jpg", (230, 120, 40))
        write_image(home.landing / "coffee.jpg", (90, 60, 30), seed=1)
        home.put("coffee.txt", "A flat white on the terrace, morning sun.")
        home.put("notes/packing list.txt", "Sunscreen, towels, a paperback.")
        home.ingest()
        names = sorted(home.live().values())
        assert names == ["IMG_2023-05-01_beach.jpg", "coffee.jpg", "packing list.txt"]
        top = home.search("beach 2023", mode="text")[0]
        assert top["file_name"] == "IMG_2023-05-01_beach.jpg"
        assert top["segments"][0]["kind"] == "name"
        assert home.search("italy trip photos", mode="text")[0]["file_name"].startswith("IMG_")
        assert home.search("coffee", mode="text")[0]["file_name"] == "coffee.jpg"
        caption = home.search("flat white on a terrace")[0]
        assert caption["file_name"] == "coffee.jpg"
        assert any(s["kind"] == "description" for s in caption["segments"])
        analyses = home.table("analyses").height
        home.move("coffee.jpg", "drinks/espresso.jpg")
        home.move("coffee.txt", "drinks/espresso.txt")
        home.ingest()
        assert home.table("analyses").height == analyses  # a rename is not analyzed again
        assert home.search("espresso", mode="text")[0]["file_name"] == "espresso.jpg"
        assert all(h["file_name"] != "coffee.jpg" for h in home.search("coffee", mode="text"))
