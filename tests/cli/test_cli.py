from __future__ import annotations

import json
from pathlib import Path

import pytest

from dataflux_pipeline.catalog import Catalog
from dataflux_pipeline.cli.main import main
from dataflux_pipeline.cli.samples import RECIPE_MD, Shot, write_srt, write_video
from dataflux_pipeline.settings import get_settings


@pytest.fixture
def env(tmp_path: Path, monkeypatch) -> Path:
    home = tmp_path / "data"
    monkeypatch.setenv("DATAFLUX_HOME", str(home))
    monkeypatch.setenv("DATAFLUX_SETTLE_SECONDS", "0")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()


def test_analyze_prints_segments_as_json(tmp_path: Path, env, capsys) -> None:
    video = tmp_path / "clip.mp4"
    write_video(video, [Shot(30, (30, 30, 200)), Shot(30, (220, 200, 20))])
    write_srt(tmp_path / "clip.srt", [(0.5, 1.5, "Hello from the subtitles")])
    assert main(["analyze", str(video), "--json", "--thumbnails", str(tmp_path / "t")]) == 0
    doc = json.loads(capsys.readouterr().out)
    kinds = [s["kind"] for s in doc["segments"]]
    assert kinds.count("shot") == 2 and kinds.count("keyframe") == 2
    cue = next(s for s in doc["segments"] if s["kind"] == "cue")
    assert cue["text"] == "Hello from the subtitles" and cue["start_s"] == 0.5
    assert doc["duration_s"] == pytest.approx(60 / 25, abs=0.05)
    assert len(doc["features"]["features_video"]) == 2


def test_analyze_reports_a_bad_file(tmp_path: Path, env, capsys) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(100))
    assert main(["analyze", str(bad)]) == 1
    assert "bad.mp4" in capsys.readouterr().err


@pytest.mark.slow
def test_ingest_then_search(env, capsys) -> None:
    landing = env / "landing"
    landing.mkdir(parents=True)
    (landing / "bread.md").write_text(RECIPE_MD)
    (landing / "tax.txt").write_text("Income tax returns are due at the end of April.")
    assert main(["ingest"]) == 0
    assert "1 partition(s) materialized" in capsys.readouterr().out
    catalog = Catalog.open(get_settings().database)
    assert catalog.counts() == {"indexed": 2}  # the live catalog under DATAFLUX_HOME
    assert (env / "dataflux.db").is_file()
    assert main(["ingest"]) == 0
    assert "0 partition(s) materialized" in capsys.readouterr().out
    assert catalog.counts() == {"indexed": 2}
    assert main(["search", "when is my tax return due", "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert "tax.txt" in out and "bread.md" not in out


@pytest.mark.slow
def test_ingest_exits_nonzero_when_a_run_fails(env, monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setenv("DATAFLUX_TEXT_MODEL", str(tmp_path / "no-model-here"))
    get_settings.cache_clear()
    (env / "landing").mkdir(parents=True)
    (env / "landing" / "note.txt").write_text("text that needs the missing model")
    assert main(["ingest"]) == 1
    assert "failed runs" in capsys.readouterr().err
    # analyzed without the model; the embedding step failed, so nothing reached the index
    assert Catalog.open(get_settings().database).counts() == {"analyzed": 1}
