"""A person's day in a real browser: sign in, upload a video with its subtitles and a
photo, watch them become searchable, search a paraphrase of a line, land in the player at
that line, keep it in a collection, share it with one colleague (who finds it) and not
another (who does not); a file named like markup stays text; every page fits a phone."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from dataflux_pipeline.cli.samples import Shot, write_image, write_srt, write_video
from tests.web.conftest import PASSWORD, XSS_NAME, no_horizontal_scroll, screenshot

pytestmark = pytest.mark.slow
CUES = [
    (0.5, 1.8, "Welcome aboard the morning ferry to the islands."),
    (2.3, 3.8, "Seagulls follow the boat hoping for scraps of bread."),
    (4.6, 7.4, "The old lighthouse keeper climbs two hundred steps every night."),
]
PARAPHRASE = "man walking up the stairs of a lighthouse in the evening"
SEARCHABLE_S = 300


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("media")
    shots = [Shot(50, (20, 60, 140)), Shot(50, (200, 160, 40)), Shot(50, (40, 150, 60))]
    shots.append(Shot(50, (150, 40, 120)))
    video = folder / "harbour_tour.mp4"
    write_video(video, shots)
    return {
        "video": video,
        "subtitles": write_srt(folder / "harbour_tour.srt", CUES),
        "photo": write_image(folder / "red_boat.jpg", (180, 30, 30), seed=7),
        "markup": write_image(folder / XSS_NAME, (30, 30, 180), seed=8),
    }


def token(site, user: str) -> dict[str, str]:
    resp = httpx.post(f"{site.url}/auth/token", data={"username": user, "password": PASSWORD})
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def searchable(page, rows: int) -> None:
    deadline = time.monotonic() + SEARCHABLE_S
    while time.monotonic() < deadline:
        stages = page.eval_on_selector_all("#uploads li", "els => els.map(e => e.dataset.stage)")
        assert "failed" not in stages, page.inner_text("#uploads")
        if len(stages) == rows and all(s == "searchable" for s in stages):
            return
        page.wait_for_timeout(500)
    raise AssertionError(f"not searchable in time: {page.inner_text('#uploads')}")


def test_upload_watch_search_play_collect_share(site, browser, media, tmp_path) -> None:
    page = site.page(browser, user="ana")
    page.click("#nav >> text=Upload")
    page.set_input_files("#file-input", [media["video"], media["subtitles"], media["photo"]])
    names = page.locator("#uploads .file-name").all_inner_texts()
    assert sorted(names) == ["harbour_tour.mp4 + harbour_tour.srt", "red_boat.jpg"]
    searchable(page, 2)  # pushed over server-sent events, no reload
    screenshot(page, "upload-1400", tmp_path)

    page.click("#nav >> text=Search")
    page.fill("input[name=q]", PARAPHRASE)
    page.press("input[name=q]", "Enter")
    first = page.locator("#results > li").first
    first.wait_for()
    assert first.locator("h2").inner_text() == "harbour_tour.mp4"
    # the picture is the keyframe of the shot on screen when the line is said (shot 2)
    assert first.locator("img.thumb").get_attribute("src").endswith("/shot_0002.jpg")
    assert "lighthouse" in first.locator(".moment").first.inner_text()
    assert int(page.get_attribute("#results", "data-render-ms")) < 100
    screenshot(page, "search-1400", tmp_path)

    first.locator(".moment a.time").first.click()
    page.wait_for_function(
        "() => { const p = document.getElementById('player');"
        " return p && p.readyState >= 1 && Math.abs(p.currentTime - 4.6) < 0.5; }"
    )
    page.fill("#coll-name", "Harbour films")
    page.click("#collections button[type=submit]")
    page.wait_for_selector("#collections >> text=Harbour films")
    page.fill("#share-user", "bo")
    page.click("#sharing button[type=submit]")
    page.wait_for_selector("#shared-with li")
    screenshot(page, "asset-1400", tmp_path)
    asset_id = page.url.split("/asset/")[1].split("?")[0]

    bo = site.page(browser, user="bo")
    bo.goto(f"{site.url}/?q={quote(PARAPHRASE)}")
    bo.wait_for_selector("#results")
    assert "harbour_tour.mp4" in bo.locator("#results h2").all_inner_texts()
    cy = site.page(browser, user="cy")
    cy.goto(f"{site.url}/?q={quote(PARAPHRASE)}")
    cy.wait_for_selector("#results, #empty")
    assert "harbour_tour.mp4" not in cy.inner_text("main")
    cy.goto(f"{site.url}/asset/{asset_id}")
    cy.wait_for_selector("h1 >> text=Not found")
    assert not site.errors, site.errors
    assert not site.daemon.failed


def test_media_streams_ranges_to_readers_only(site) -> None:
    ana = token(site, "ana")
    found = httpx.post(f"{site.url}/search", headers=ana, json={"query": PARAPHRASE}).json()
    asset_id = found["results"][0]["asset_id"]
    part = httpx.get(
        f"{site.url}/media/{asset_id}", headers=ana | {"Range": "bytes=100-1099"}, timeout=30
    )
    assert part.status_code == 206 and len(part.content) == 1000
    assert part.headers["content-range"].startswith("bytes 100-1099/")
    assert part.headers["content-type"] == "video/mp4"
    assert httpx.get(f"{site.url}/media/{asset_id}", headers=token(site, "cy")).status_code == 404
    history = httpx.get(f"{site.url}/assets/{asset_id}/history", headers=ana).json()
    assert history["analyses"][0]["current"] and history["analyses"][0]["status"] == "analyzed"
    assert "analyzed" in {e["kind"] for e in history["events"]}


def test_a_matroska_file_plays_through_its_proxy(site) -> None:
    root = token(site, "root")
    listed = httpx.get(f"{site.url}/assets?limit=50", headers=root).json()["items"]
    mkv = next(a for a in listed if a["file_name"] == "ferry.mkv")
    assert mkv["state"] == "completed", mkv
    played = httpx.get(f"{site.url}/media/{mkv['asset_id']}", headers=root)
    assert played.headers["content-type"] == "video/mp4" and played.content[4:8] == b"ftyp"
    original = httpx.get(f"{site.url}/media/{mkv['asset_id']}?original=true", headers=root)
    assert original.headers["content-type"] == "video/x-matroska"
    assert original.headers["content-disposition"].startswith("inline")
    saved = httpx.get(f"{site.url}/media/{mkv['asset_id']}?download=true", headers=root)
    assert saved.headers["content-disposition"] == "attachment; filename*=UTF-8''ferry.mkv"


def test_markup_in_a_file_name_stays_text(site, browser, media, tmp_path) -> None:
    page = site.page(browser, user="root")
    page.goto(f"{site.url}/?q={quote('img onerror alert')}")
    page.wait_for_selector("#results")
    assert XSS_NAME in page.locator("#results h2").all_inner_texts()
    assert page.locator("img[src='x']").count() == 0
    page.goto(f"{site.url}/upload")
    page.set_input_files("#file-input", [media["markup"]])
    page.wait_for_selector("#uploads li[data-stage]")
    assert page.locator("#uploads .file-name").first.inner_text() == XSS_NAME
    assert page.locator("img[src='x']").count() == 0
    assert not [e for e in site.errors if "dialog" in e], site.errors


def test_pages_fit_a_phone_and_a_desktop(site, browser, tmp_path) -> None:
    ana = token(site, "ana")
    hits = httpx.post(f"{site.url}/search", headers=ana, json={"query": PARAPHRASE}).json()
    asset = f"/asset/{hits['results'][0]['asset_id']}?t=4.6"
    pages = {"search": f"/?q={quote(PARAPHRASE)}", "asset": asset, "upload": "/upload"}
    pages |= {"overview": "/overview?days=1", "library": "/library"}
    for width in (375, 1400):
        page = site.page(browser, width=width, user="ana")
        for name, path in pages.items():
            page.goto(site.url + path)
            page.wait_for_selector("main h1, main h2, #results")
            page.wait_for_load_state("networkidle")
            assert no_horizontal_scroll(page), (name, width)
            if width == 375 or name == "overview":
                screenshot(page, f"{name}-{width}", tmp_path)
        page.context.close()
    assert not site.errors, site.errors
