from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from dataflux_pipeline.cli.samples import write_image, write_pdf
from dataflux_pipeline.intake.identity import (
    IntakeError,
    check_type,
    sniff_mime,
    store_file,
)
from dataflux_pipeline.intake.records import Limits, merge_duplicates
from dataflux_pipeline.intake.records import intake_record as _catalog_file
from dataflux_pipeline.intake.sidecars import group_files


def intake_record(path, sidecars, objects, max_bytes, supported):
    return _catalog_file(path, path.parent, sidecars, objects, Limits(max_bytes, 3600), supported)


def media_type(mime: str) -> str | None:
    return {"image/jpeg": "image", "application/pdf": "document", "text/plain": "document"}.get(
        mime
    )


def test_sniffing_uses_content_not_extension(tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "film.mp4", ["hello"])
    assert sniff_mime(pdf, pdf.read_bytes()[:8192]) == "application/pdf"
    with pytest.raises(IntakeError, match="application/pdf"):
        check_type(pdf, "application/pdf")
    jpg = tmp_path / "noise.jpg"
    jpg.write_bytes(os.urandom(4096))
    assert sniff_mime(jpg, jpg.read_bytes()) == "application/octet-stream"
    with pytest.raises(IntakeError, match="not a readable image"):
        check_type(jpg, "application/octet-stream")
    md = tmp_path / "notes.md"
    md.write_text("# Title\n\nbody ü")
    assert sniff_mime(md, md.read_bytes()) == "text/markdown"


def test_store_file_is_content_addressed_and_hashes_right(tmp_path: Path) -> None:
    a = tmp_path / "a.txt"
    b = tmp_path / "b.txt"
    a.write_text("same bytes")
    b.write_text("same bytes")
    objects = tmp_path / "store" / "objects"
    sa = store_file(a, objects, 1 << 20)
    sb = store_file(b, objects, 1 << 20)
    assert sa.sha256 == hashlib.sha256(b"same bytes").hexdigest()
    assert sa.store_path == sb.store_path
    assert len(list(objects.rglob("*.txt"))) == 1
    assert not list(objects.rglob(".incoming-*"))
    with pytest.raises(IntakeError, match="over the limit"):
        store_file(a, objects, 3)


def test_catalog_rows_for_bad_files(tmp_path: Path) -> None:
    objects = tmp_path / "store" / "objects"
    empty = tmp_path / "empty.mp4"
    empty.touch()
    row = intake_record(empty, {}, objects, 1 << 30, media_type)
    assert row["status"] == "failed" and "empty" in row["error"]
    assert row["asset_id"] == hashlib.sha256(b"").hexdigest()
    gone = intake_record(tmp_path / "gone.mp4", {}, objects, 1 << 30, media_type)
    assert gone["status"] == "failed" and "disappeared" in gone["error"]
    assert gone["asset_id"].startswith("unreadable-")
    pdf = write_pdf(tmp_path / "movie.mp4", ["text"])
    bad = intake_record(pdf, {}, objects, 1 << 30, media_type)
    assert bad["status"] == "failed" and "says video" in bad["error"]
    weird = tmp_path / "data.bin"
    weird.write_bytes(b"\x00\x01\x02" * 100)
    skipped = intake_record(weird, {}, objects, 1 << 30, media_type)
    assert skipped["status"] == "skipped" and "unsupported" in skipped["error"]


def test_same_content_two_names_is_one_asset(tmp_path: Path) -> None:
    objects = tmp_path / "store" / "objects"
    img = write_image(tmp_path / "one.jpg", (10, 20, 30))
    (tmp_path / "two.jpg").write_bytes(img.read_bytes())
    rows = [intake_record(p, {}, objects, 1 << 30, media_type) for p in (img, tmp_path / "two.jpg")]
    merged = merge_duplicates(rows, known=set())
    assert len(merged) == 1
    assert [Path(u).name for u in merged[0]["uris"]] == ["one.jpg", "two.jpg"]
    again = merge_duplicates(
        [intake_record(img, {}, objects, 1 << 30, media_type)], known={merged[0]["asset_id"]}
    )
    assert again[0]["status"] == "duplicate"


def test_sidecars_group_with_their_primary(tmp_path: Path) -> None:
    names = [
        "clip.mp4",
        "clip.en.srt",
        "clip.json",
        "clip.jpg",
        "song.ogg",
        "song.txt",
        "notes.txt",
        "cover.jpg",
        "orphan.srt",
    ]
    for n in names:
        (tmp_path / n).write_bytes(b"x")
    groups = {
        g.primary.name: {k: v.name for k, v in g.sidecars.items()}
        for g in group_files(tmp_path.iterdir())
    }
    assert groups["clip.mp4"] == {
        "subtitle": "clip.en.srt",
        "metadata": "clip.json",
        "artwork": "clip.jpg",
    }
    assert groups["song.ogg"] == {"metadata": "song.txt"}
    assert groups["notes.txt"] == {}
    assert groups["cover.jpg"] == {}
    assert "orphan.srt" in groups
