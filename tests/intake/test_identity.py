"""What a file is: its sniffed type, its hashes and content-addressed copy, the rule that
keeps links from bringing files from elsewhere in, and the intake record of one version."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import xxhash

from dataflux_pipeline.cli.samples import write_image, write_pdf, write_srt
from dataflux_pipeline.intake import identity
from dataflux_pipeline.intake.identity import (
    IntakeError,
    check_type,
    contained,
    media_type_of,
    read_file,
    sniff_mime,
)
from dataflux_pipeline.intake.records import Limits, Source, take
from tests.support.badfiles import truncate, write_audio

LIMITS = Limits(max_bytes=1 << 30, max_duration_s=3600.0)
SECRET = b"-----BEGIN PRIVATE KEY----- not for the catalog"


def version(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def take_file(
    source: Source,
    rel: str,
    objects: Path,
    sidecars: dict[str, str] | None = None,
    limits: Limits = LIMITS,
):
    return take(
        source,
        rel,
        version(source.root / rel),
        sidecars or {},
        objects,
        limits,
        media_type_of,
    )


@pytest.fixture
def land(tmp_path: Path) -> Path:
    folder = tmp_path / "landing"
    folder.mkdir()
    return folder


@pytest.fixture
def objects(tmp_path: Path) -> Path:
    return tmp_path / "store" / "objects"


def stored_bytes(objects: Path) -> list[bytes]:
    return [p.read_bytes() for p in objects.rglob("*") if p.is_file()] if objects.exists() else []


# ---- sniffing --------------------------------------------------------------------------


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


# ---- read_file ---------------------------------------------------------------------------


def test_read_file_copies_content_addressed_and_hashes_right(tmp_path: Path) -> None:
    a = tmp_path / "a.txt"
    b = tmp_path / "b.TXT"
    a.write_text("same bytes")
    b.write_text("same bytes")
    objects = tmp_path / "store" / "objects"
    sa = read_file(a, objects, 1 << 20)
    sb = read_file(b, objects, 1 << 20)
    sha = hashlib.sha256(b"same bytes").hexdigest()
    assert sa.sha256 == sb.sha256 == sha
    assert sa.xxh128 == xxhash.xxh3_128(b"same bytes").hexdigest()
    assert sa.size_bytes == 10 and sa.mime_type == "text/plain"
    assert sa.store_path == objects / sha[:2] / f"{sha}.txt"
    assert sb.store_path == sa.store_path  # one content, one object
    assert sa.store_path.read_bytes() == b"same bytes"
    assert [p for p in objects.rglob("*") if p.is_file()] == [sa.store_path]


def test_read_file_without_objects_only_hashes(tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    data = os.urandom(3 * identity.CHUNK + 17)  # several chunks, the head included once
    src.write_bytes(data)
    before = sorted(tmp_path.rglob("*"))
    found = read_file(src, None, 1 << 30)
    assert found.store_path is None
    assert found.sha256 == hashlib.sha256(data).hexdigest()
    assert found.xxh128 == xxhash.xxh3_128(data).hexdigest()
    assert found.size_bytes == len(data)
    assert sorted(tmp_path.rglob("*")) == before  # nothing written anywhere


def test_read_file_refuses_empty_and_oversized_files(tmp_path: Path) -> None:
    objects = tmp_path / "objects"
    empty = tmp_path / "empty.txt"
    empty.touch()
    with pytest.raises(IntakeError, match="empty"):
        read_file(empty, objects, 1 << 20)
    big = tmp_path / "big.txt"
    big.write_text("four")
    with pytest.raises(IntakeError, match="4 bytes, over the limit of 3"):
        read_file(big, objects, 3)
    assert read_file(big, None, 4).size_bytes == 4  # the limit itself is allowed
    assert stored_bytes(objects) == []


def test_a_copy_that_fails_midway_leaves_no_half_object(tmp_path: Path, monkeypatch) -> None:
    src = tmp_path / "video.mp4"
    src.write_bytes(os.urandom(2 * identity.CHUNK))
    objects = tmp_path / "objects"

    def broken(f, head):
        yield head
        raise OSError("device went away")

    monkeypatch.setattr(identity, "_chunks", broken)
    with pytest.raises(OSError, match="device went away"):
        read_file(src, objects, 1 << 30)
    assert [p for p in objects.rglob("*") if p.is_file()] == []


# ---- contained -------------------------------------------------------------------------


def test_links_leading_outside_the_source_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "landing"
    (root / "inner").mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    (root / "inner" / "real.txt").write_text("in the source")

    (root / "escape.txt").symlink_to(outside / "secret.txt")
    with pytest.raises(IntakeError, match=r"'escape\.txt' is a link that leads outside"):
        contained(root / "escape.txt", root)

    (root / "linked_dir").symlink_to(outside, target_is_directory=True)
    with pytest.raises(IntakeError, match="leads outside its source"):
        contained(root / "linked_dir" / "secret.txt", root)

    (root / "alias.txt").symlink_to(root / "inner" / "real.txt")
    assert contained(root / "alias.txt", root) == (root / "inner" / "real.txt").resolve()
    (root / "inner_link").symlink_to(root / "inner", target_is_directory=True)
    assert contained(root / "inner_link" / "real.txt", root) == (root / "inner/real.txt").resolve()
    assert contained(root / "inner" / "real.txt", root) == (root / "inner/real.txt").resolve()

    (root / "dangling.txt").symlink_to(tmp_path / "nothing-here")
    with pytest.raises(IntakeError, match=r"cannot read 'dangling\.txt'"):
        contained(root / "dangling.txt", root)


def test_a_source_root_that_is_itself_a_link_is_fine(tmp_path: Path) -> None:
    real = tmp_path / "real_landing"
    real.mkdir()
    (real / "a.txt").write_text("a")
    root = tmp_path / "landing"
    root.symlink_to(real, target_is_directory=True)
    assert contained(root / "a.txt", root) == (real / "a.txt").resolve()


# ---- take --------------------------------------------------------------------------------


def test_a_good_file_is_taken_referenced_or_copied(land: Path, objects: Path) -> None:
    (land / "photos").mkdir()
    img = write_image(land / "photos" / "harbour.jpg", (10, 20, 30))
    sha = hashlib.sha256(img.read_bytes()).hexdigest()

    referenced = take_file(Source("landing", land), "photos/harbour.jpg", objects)
    assert referenced.outcome == "ok" and referenced.error is None
    assert referenced.asset_id == referenced.sha256 == sha
    assert referenced.xxh128 == xxhash.xxh3_128(img.read_bytes()).hexdigest()
    assert (referenced.mime_type, referenced.media_type) == ("image/jpeg", "image")
    assert referenced.uri == "landing:photos/harbour.jpg"
    assert referenced.file_name == "harbour.jpg" and referenced.source == "landing"
    assert (referenced.size_bytes, referenced.mtime_ns) == version(img)
    assert referenced.store_path is None and stored_bytes(objects) == []

    copied = take_file(Source("landing", land, copy_files=True), "photos/harbour.jpg", objects)
    assert copied.outcome == "ok" and copied.asset_id == sha
    assert copied.store_path == f"objects/{sha[:2]}/{sha}.jpg"
    assert (objects.parent / copied.store_path).read_bytes() == img.read_bytes()


def test_same_content_under_two_names_is_one_content(land: Path, objects: Path) -> None:
    img = write_image(land / "one.jpg", (10, 20, 30))
    (land / "two.jpg").write_bytes(img.read_bytes())
    source = Source("landing", land, copy_files=True)
    one, two = (take_file(source, rel, objects) for rel in ("one.jpg", "two.jpg"))
    assert one.asset_id == two.asset_id == hashlib.sha256(img.read_bytes()).hexdigest()
    assert (one.path, two.path) == ("one.jpg", "two.jpg")
    assert one.store_path == two.store_path
    assert stored_bytes(objects) == [img.read_bytes()]


def test_bad_files_are_recorded_with_a_reason(land: Path, objects: Path, tmp_path: Path) -> None:
    source = Source("landing", land)
    (land / "empty.mp4").touch()
    empty = take_file(source, "empty.mp4", objects)
    assert empty.outcome == "failed" and "empty (0 bytes)" in empty.error
    assert empty.asset_id == hashlib.sha256(b"").hexdigest()

    write_pdf(land / "movie.mp4", ["a PDF wearing a video's name"])
    disguised = take_file(source, "movie.mp4", objects)
    assert disguised.outcome == "failed"
    assert "application/pdf" in disguised.error and "says video" in disguised.error
    assert disguised.asset_id == hashlib.sha256((land / "movie.mp4").read_bytes()).hexdigest()

    mp3 = write_audio(tmp_path / "a.mp3", "libmp3lame", 20.0)
    truncate(mp3, land / "cut.mp3", 0.5)
    cut = take_file(source, "cut.mp3", objects)
    assert cut.outcome == "failed" and cut.error.startswith("truncated:"), cut.error
    assert cut.mime_type == "audio/mpeg"

    (land / "data.bin").write_bytes(b"\x00\x01\x02" * 100)
    skipped = take_file(source, "data.bin", objects)
    assert skipped.outcome == "skipped"
    assert skipped.error == "unsupported file type application/octet-stream"
    assert skipped.asset_id == hashlib.sha256(b"\x00\x01\x02" * 100).hexdigest()

    (land / "huge.txt").write_text("big " * 100)
    huge = take_file(source, "huge.txt", objects, limits=Limits(100, 3600.0))
    assert huge.outcome == "failed" and "over the limit of 100" in huge.error

    long = write_audio(land / "long.mp3", "libmp3lame", 6.0)
    too_long = take_file(source, long.name, objects, limits=Limits(1 << 30, 3.0))
    assert too_long.outcome == "failed" and "DATAFLUX_MAX_DURATION_S" in too_long.error
    assert too_long.duration_s == pytest.approx(6.0, abs=0.2)

    ok = take_file(source, long.name, objects)
    assert ok.outcome == "ok" and ok.media_type == "audio"
    assert ok.duration_s == pytest.approx(6.0, abs=0.2)


def test_a_file_changed_or_gone_since_planned_is_missing(land: Path, objects: Path) -> None:
    source = Source("landing", land)
    note = land / "note.txt"
    note.write_text("first version")
    planned = version(note)
    note.write_text("second, longer version")
    changed = take(source, "note.txt", planned, {}, objects, LIMITS, media_type_of)
    assert changed.outcome == "missing" and changed.error == "file changed"
    assert changed.sha256 is None and changed.asset_id.startswith("unreadable-")
    same_size = land / "same.txt"
    same_size.write_text("aaaa")
    size, mtime = version(same_size)
    touched = take(source, "same.txt", (size, mtime - 10**9), {}, objects, LIMITS, media_type_of)
    assert touched.outcome == "missing" and touched.error == "file changed"
    gone = take(source, "gone.txt", (5, 1), {}, objects, LIMITS, media_type_of)
    assert gone.outcome == "missing" and gone.error == "file is gone"
    assert (
        gone.asset_id
        == take(source, "gone.txt", (5, 1), {}, objects, LIMITS, media_type_of).asset_id
    )
    now = take(source, "note.txt", version(note), {}, objects, LIMITS, media_type_of)
    assert now.outcome == "ok"
    assert now.sha256 == hashlib.sha256(b"second, longer version").hexdigest()


def test_a_staged_copy_keeps_the_objects_time(land: Path, objects: Path) -> None:
    """A staged S3 object carries the time it was fetched: only the size is compared."""
    (land / "doc.txt").write_text("from the bucket")
    source = Source("inbox", land, base_uri="s3://bucket/inbox/")
    record = take(source, "doc.txt", (15, 1234), {}, objects, LIMITS, media_type_of)
    assert record.outcome == "ok" and record.mtime_ns == 1234
    assert record.uri == "s3://bucket/inbox/doc.txt"
    grown = take(source, "doc.txt", (14, 1234), {}, objects, LIMITS, media_type_of)
    assert grown.outcome == "missing"


def test_a_primary_linking_outside_the_source_is_refused(
    land: Path, objects: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    (land / "escape.txt").symlink_to(outside / "secret.txt")
    (land / "shared").symlink_to(outside, target_is_directory=True)
    source = Source("landing", land, copy_files=True)
    for rel in ("escape.txt", "shared/secret.txt"):
        record = take_file(source, rel, objects)
        assert record.outcome == "failed", rel
        assert "link that leads outside its source" in record.error
        assert record.sha256 is None and record.store_path is None
    assert all(SECRET not in b for b in stored_bytes(objects))

    (land / "real.txt").write_text("inside")
    (land / "alias.txt").symlink_to(land / "real.txt")
    alias = take_file(source, "alias.txt", objects)
    assert alias.outcome == "ok"
    assert alias.asset_id == hashlib.sha256(b"inside").hexdigest()


def test_a_sidecar_linking_outside_is_refused_and_the_primary_goes_on(
    land: Path, objects: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.json").write_bytes(SECRET)
    write_audio(land / "song.mp3", "libmp3lame", 3.0)
    write_srt(land / "song.srt", [(0.0, 2.0, "la la la")])
    (land / "song.json").symlink_to(outside / "secret.json")
    source = Source("landing", land, copy_files=True)
    record = take_file(
        source, "song.mp3", objects, {"subtitle": "song.srt", "metadata": "song.json"}
    )
    assert record.outcome == "ok" and record.error is None
    assert set(record.sidecars) == {"subtitle"}
    subtitle = record.sidecars["subtitle"]
    srt = (land / "song.srt").read_bytes()
    assert subtitle.path == "song.srt" and subtitle.sha256 == hashlib.sha256(srt).hexdigest()
    assert (objects.parent / subtitle.store_path).read_bytes() == srt
    assert len(record.warnings) == 1
    assert "metadata sidecar 'song.json' refused" in record.warnings[0]
    assert "leads outside its source" in record.warnings[0]
    assert all(SECRET not in b for b in stored_bytes(objects))
    assert len(stored_bytes(objects)) == 2  # the song and its subtitle


def test_missing_or_empty_sidecars_are_left_out_quietly(land: Path, objects: Path) -> None:
    write_audio(land / "song.mp3", "libmp3lame", 3.0)
    (land / "song.txt").touch()
    record = take_file(
        Source("landing", land), "song.mp3", objects, {"metadata": "song.txt", "subtitle": "x.srt"}
    )
    assert record.outcome == "ok" and record.sidecars == {} and record.warnings == []
