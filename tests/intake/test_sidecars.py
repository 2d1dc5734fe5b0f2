"""Sidecars pair with the primary file that shares their stem, before anything is read."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from dataflux_pipeline.intake.sidecars import group_files, is_candidate, sidecar_kind


def groups_of(paths) -> dict[str, dict[str, str]]:
    return {
        g.primary.as_posix(): {k: v.as_posix() for k, v in g.sidecars.items()}
        for g in group_files(paths)
    }


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
    assert groups == {
        "clip.mp4": {"subtitle": "clip.en.srt", "metadata": "clip.json", "artwork": "clip.jpg"},
        "song.ogg": {"metadata": "song.txt"},
        "notes.txt": {},
        "cover.jpg": {},
        "orphan.srt": {},
    }
    clip = next(g for g in group_files(tmp_path.iterdir()) if g.primary.name == "clip.mp4")
    assert clip.paths[0].name == "clip.mp4"
    assert sorted(p.name for p in clip.paths[1:]) == ["clip.en.srt", "clip.jpg", "clip.json"]


def test_grouping_stays_within_one_folder_and_ignores_case() -> None:
    paths = [PurePosixPath(p) for p in ("a/clip.mp4", "b/clip.srt", "a/Clip.EN.SRT", "b/x.txt")]
    assert groups_of(paths) == {
        "a/clip.mp4": {"subtitle": "a/Clip.EN.SRT"},
        "b/clip.srt": {},
        "b/x.txt": {},
    }


def test_a_second_sidecar_of_one_kind_stands_alone() -> None:
    paths = [PurePosixPath(p) for p in ("talk.mp4", "talk.en.srt", "talk.fr.srt")]
    assert groups_of(paths) == {"talk.mp4": {"subtitle": "talk.en.srt"}, "talk.fr.srt": {}}


def test_which_files_can_be_sidecars_of_which() -> None:
    video, audio = Path("clip.mp4"), Path("song.flac")
    pdf, image = Path("report.pdf"), Path("photo.png")
    assert sidecar_kind(video, Path("clip.vtt")) == "subtitle"
    assert sidecar_kind(audio, Path("song.png")) == "artwork"
    assert sidecar_kind(audio, Path("song.nfo")) == "metadata"
    assert sidecar_kind(pdf, Path("report.txt")) is None  # two documents stand apart
    assert sidecar_kind(pdf, Path("report.srt")) is None  # subtitles only for timed media
    assert sidecar_kind(pdf, Path("report.json")) == "metadata"
    assert sidecar_kind(image, Path("photo.json")) == "metadata"
    assert sidecar_kind(image, Path("photo.jpg")) is None  # artwork only for timed media
    pdf_and_notes = [PurePosixPath("report.pdf"), PurePosixPath("report.txt")]
    assert groups_of(pdf_and_notes) == {"report.pdf": {}, "report.txt": {}}


def test_hidden_temporary_and_non_files_are_not_candidates(tmp_path: Path) -> None:
    for name in ("ok.txt", ".hidden.txt", "~lock.docx", "_tmp_upload.mp4"):
        (tmp_path / name).write_text("x")
    (tmp_path / "folder").mkdir()
    found = sorted(p.name for p in tmp_path.iterdir() if is_candidate(p))
    assert found == ["ok.txt"]
