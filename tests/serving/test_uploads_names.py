"""Upload file names (serving.uploads.safe_name) become paths in the uploads area: no
folders, no odd characters, and never a name the sources sensor skips as hidden or
temporary. Staging and publishing checked against the real folder listing."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from dataflux_pipeline.intake.identity import IGNORED_PREFIXES
from dataflux_pipeline.intake.listing import list_folder
from dataflux_pipeline.serving import uploads
from dataflux_pipeline.serving.uploads import UploadError, safe_name


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("holiday.jpg", "holiday.jpg"),
        ("My Song (live) v2.mp3", "My Song _live_ v2.mp3"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("/var/data/clip.mp4", "clip.mp4"),
        ("..\\..\\win.txt", "_.._win.txt"),  # a backslash is no separator here: replaced
        ("caf\u00e9 cr\u00e8me.md", "caf_ cr_me.md"),
        ("tab\there\nnewline.txt", "tab_here_newline.txt"),
        ("nul\x00byte.txt", "nul_byte.txt"),
        ("semi;colon|pipe$.pdf", "semi_colon_pipe_.pdf"),
        ("  spaced out.txt  ", "spaced out.txt"),
    ],
)
def test_folders_are_stripped_and_odd_characters_replaced(given: str, kept: str) -> None:
    assert safe_name(given) == kept


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("_tmp_report.txt", "upload-_tmp_report.txt"),
        ("_tmpfile.md", "upload-_tmpfile.md"),
        (".hidden.txt", "hidden.txt"),
        ("..._tmp.txt", "upload-_tmp.txt"),
        ("~$lock.docx.txt", "_lock.docx.txt"),
        ("~notes.txt", "_notes.txt"),
        ("dir/.bashrc.txt", "bashrc.txt"),
    ],
)
def test_names_the_sensor_would_skip_are_renamed(given: str, kept: str) -> None:
    name = safe_name(given)
    assert name == kept and not name.startswith(IGNORED_PREFIXES)


@pytest.mark.parametrize("given", [None, "", "   ", ".", "..", "...", "a/b/..", "/"])
def test_a_name_with_nothing_left_is_refused(given: str | None) -> None:
    with pytest.raises(UploadError) as err:
        safe_name(given)
    assert err.value.status == 422


def test_long_names_are_shortened_keeping_the_extension() -> None:
    name = safe_name("a" * 300 + ".md")
    assert name == "a" * 197 + ".md" and len(name) == uploads.MAX_NAME
    assert safe_name("b" * 200) == "b" * 200
    assert safe_name("c" * 190 + ".txt") == "c" * 190 + ".txt"  # short enough: unchanged
    odd = safe_name("d" * 150 + "." + "e" * 100)  # a "suffix" that long is no extension
    assert odd == ("d" * 150 + "." + "e" * 100)[:200]


def test_renamed_uploads_are_listed_by_the_sensor(tmp_path: Path) -> None:
    area = tmp_path / "uploads"
    published = {}
    for n, given in enumerate(["_tmp_a.txt", ".b.txt", "~c.txt", "../d.txt", "e" * 300 + ".txt"]):
        body = f"upload number {n}\n".encode()
        name = safe_name(given)
        staged = uploads.stage(io.BytesIO(body), name, area / uploads.INCOMING, 1000)
        assert staged.sha256 == hashlib.sha256(body).hexdigest()
        assert staged.mime_type == "text/plain" and staged.size == len(body)
        assert uploads.check(staged, lambda mime: "document") == "document"
        target = uploads.publish(staged, area)
        assert target == area / staged.sha256 / name and target.read_bytes() == body
        published[f"{staged.sha256}/{name}"] = len(body)
    # a partial upload still in the staging folder is not a file for the sensor
    (area / uploads.INCOMING / "f00d.part").write_bytes(b"half a file")
    listed = list_folder(area)
    assert {rel: seen.size for rel, seen in listed.items()} == published
    assert uploads.queued_ids(area) == sorted(rel.split("/")[0] for rel in published)


def test_a_refused_stage_leaves_nothing_behind(tmp_path: Path) -> None:
    area = tmp_path / "uploads"
    with pytest.raises(UploadError) as err:
        uploads.stage(io.BytesIO(b"x" * 2000), "big.txt", area / uploads.INCOMING, 1000)
    assert err.value.status == 413
    with pytest.raises(UploadError) as err:
        uploads.stage(io.BytesIO(b""), "empty.txt", area / uploads.INCOMING, 1000)
    assert err.value.status == 422
    assert list((area / uploads.INCOMING).iterdir()) == []
    staged = uploads.stage(io.BytesIO(b"plain words"), "clip.mp4", area / uploads.INCOMING, 99)
    with pytest.raises(UploadError) as err:
        uploads.check(staged, lambda mime: "video")
    assert err.value.status == 422 and "says video" in str(err.value)


def test_remove_deletes_the_file_and_its_folder_but_stays_inside(tmp_path: Path) -> None:
    area = tmp_path / "uploads"
    kept = area / "ab12" / "keep.txt"
    gone = area / "cd34" / "gone.txt"
    for path in (kept, gone):
        path.parent.mkdir(parents=True)
        path.write_text("x")
    outside = tmp_path / "outside.txt"
    outside.write_text("not the service's")
    uploads.remove(area, "cd34/gone.txt")
    assert not gone.exists() and not gone.parent.exists() and kept.exists()
    uploads.remove(area, "../outside.txt")
    assert outside.read_text() == "not the service's"
    uploads.remove(area, "cd34/gone.txt")  # already gone: nothing to do
    assert uploads.queued_file(area, "ab12") == kept and uploads.queued_file(area, "cd34") is None


def test_an_identical_upload_landing_first_leaves_one_copy_and_no_temp_files(
    tmp_path: Path,
) -> None:
    """Two uploads of the same bytes at once: both pass the "not queued yet" check, the
    first lands, and the second's rename onto the now full folder failed with a 500 and
    left its whole group (the file) in the temp area."""
    from dataflux_pipeline.serving.sidecars import publish_together

    area = tmp_path / "uploads"
    incoming = area / uploads.INCOMING
    first = uploads.stage(io.BytesIO(b"the same note"), "alice.txt", incoming, 1000)
    second = uploads.stage(io.BytesIO(b"the same note"), "bob.txt", incoming, 1000)
    caption = uploads.stage(io.BytesIO(b'{"title": "note"}'), "bob.json", incoming, 1000)
    landed = publish_together(first, [], area)
    assert publish_together(second, [caption], area) == landed
    assert [p.name for p in (area / first.sha256).iterdir()] == ["alice.txt"]
    assert list(incoming.iterdir()) == []
