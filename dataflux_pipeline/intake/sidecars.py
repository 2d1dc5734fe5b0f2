"""Sidecars: the subtitles, metadata and artwork that share a primary file's stem
(`clip.mp4` + `clip.en.srt` + `clip.json`), paired before anything is read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from dataflux_pipeline.intake.identity import IGNORED_PREFIXES, expected_mime, media_type_of

SUBTITLE_EXT = {".srt", ".vtt"}
METADATA_EXT = {".json", ".txt", ".nfo"}
ARTWORK_EXT = {".jpg", ".jpeg", ".png", ".webp"}
SIDECAR_EXT = SUBTITLE_EXT | METADATA_EXT | ARTWORK_EXT
TEXTUAL_EXT = SUBTITLE_EXT | METADATA_EXT
_RANK = {"video": 0, "audio": 1, "document": 2, "image": 3}


def _rank(path: Path) -> int:
    return _RANK.get(media_type_of(expected_mime(path)) or "", 9)


@dataclass
class FileGroup:
    """A primary file and the sidecars that share its stem (`clip.mp4` + `clip.en.srt`)."""

    primary: Path
    sidecars: dict[str, Path] = field(default_factory=dict)

    @property
    def paths(self) -> list[Path]:
        return [self.primary, *self.sidecars.values()]


def sidecar_kind(primary: Path, candidate: Path) -> str | None:
    ext = candidate.suffix.lower()
    timed = media_type_of(expected_mime(primary)) in ("video", "audio")
    if ext in SUBTITLE_EXT and timed:
        return "subtitle"
    if ext in ARTWORK_EXT and timed:
        return "artwork"
    media = media_type_of(expected_mime(primary)) in ("video", "audio", "image")
    # a photo's, a song's or a video's `.txt` is its caption; beside a document it is a
    # document of its own
    if (ext in METADATA_EXT and (media or _rank(primary) < _rank(candidate))) or ext == ".json":
        return "metadata"
    return None


def stem_key(path: PurePath) -> tuple[PurePath, str]:
    """What pairs a sidecar with its primary: the folder and the name up to its first dot."""
    return path.parent, path.name.split(".")[0].lower()


def group_files(paths: Iterable[Path]) -> list[FileGroup]:
    """Pair sidecars with their primary; what pairs with nothing stands alone."""
    by_stem: dict[tuple[Path, str], list[Path]] = {}
    for p in sorted(paths):
        by_stem.setdefault(stem_key(p), []).append(p)
    groups: list[FileGroup] = []
    for members in by_stem.values():
        # text and subtitle files are never the primary while a media file shares the stem
        members.sort(key=lambda p: (p.suffix.lower() in TEXTUAL_EXT, _rank(p), p.name))
        group = FileGroup(members[0])
        for other in members[1:]:
            kind = sidecar_kind(group.primary, other)
            if kind and kind not in group.sidecars:
                group.sidecars[kind] = other
            else:
                groups.append(FileGroup(other))
        groups.append(group)
    return groups


def is_candidate(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(IGNORED_PREFIXES)
