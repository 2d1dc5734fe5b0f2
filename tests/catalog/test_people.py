"""Faces become people as photos arrive (opt-in recognition), people are named and merged,
search finds what shows a person, and a photo that leaves takes its face with it. Also the
picture filters that ride on the same analysis: tags and the safety score."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageEnhance, ImageOps

from dataflux_pipeline.catalog.requests import delete
from dataflux_pipeline.cli.samples.photos import photo
from tests.catalog.home import Home, home_at

pytestmark = pytest.mark.slow
pytest.importorskip("cv2", reason="face models need the vision extra")


def put_photo(home: Home, name: str, image: Image.Image) -> None:
    path = home.landing / name
    image.convert("RGB").save(path, quality=92)


def people(home: Home) -> list[dict]:
    return httpx.get(f"{home.url}/people", timeout=30).json()


def test_faces_become_people_who_are_named_merged_and_searched(tmp_path: Path) -> None:
    with home_at(tmp_path, face_recognition=True) as home:
        astronaut = photo("astronaut")
        put_photo(home, "collins-1.jpg", astronaut)
        put_photo(home, "collins-2.jpg", ImageOps.mirror(astronaut))
        put_photo(home, "collins-3.jpg", ImageEnhance.Brightness(astronaut).enhance(1.3))
        put_photo(home, "cameraman.jpg", photo("camera"))
        home.ingest()
        found = people(home)
        assert sorted(p["faces"] for p in found) == [1, 3]
        collins = next(p for p in found if p["faces"] == 3)
        by_name = {v: k for k, v in home.live().items()}
        assert set(collins["assets"]) == {by_name[f"collins-{n}.jpg"] for n in (1, 2, 3)}
        named = httpx.patch(f"{home.url}/people/{collins['id']}", json={"name": "Eileen Collins"})
        assert named.status_code == 200 and named.json()["name"] == "Eileen Collins"
        hits = home.search("portrait", person_id=collins["id"], limit=10)
        assert {h["asset_id"] for h in hits} <= set(collins["assets"]) and hits
        delete(home.catalog, by_name["collins-2.jpg"], actor="test")
        home.ingest()  # the purge takes the photo's face out of its person
        collins = next(p for p in people(home) if p["id"] == collins["id"])
        assert collins["faces"] == 2 and collins["name"] == "Eileen Collins"
        other = next(p for p in people(home) if p["id"] != collins["id"])
        merged = httpx.post(
            f"{home.url}/people/{collins['id']}/merge", json={"other_id": other["id"]}
        ).json()
        assert merged["faces"] == 3 and [p["id"] for p in people(home)] == [collins["id"]]


def test_tags_filter_and_the_safe_filter(tmp_path: Path) -> None:
    # a threshold nothing passes: every picture counts as unsafe, so `safe` must drop them
    with home_at(tmp_path, nsfw_threshold=0.0) as home:
        put_photo(home, "chelsea.jpg", photo("chelsea"))
        put_photo(home, "coffee.jpg", photo("coffee"))
        home.put("notes.txt", "A cat slept on the windowsill while the coffee went cold.")
        home.ingest()
        by_name = {v: k for k, v in home.live().items()}
        cats = home.search("animal", filters={"tags": ["cat"]}, limit=10)
        assert [h["asset_id"] for h in cats] == [by_name["chelsea.jpg"]]
        every = {h["file_name"] for h in home.search("cat coffee", limit=10)}
        assert {"chelsea.jpg", "coffee.jpg", "notes.txt"} <= every
        safe = {h["file_name"] for h in home.search("cat coffee", limit=10, safe=True)}
        assert safe == {"notes.txt"}
