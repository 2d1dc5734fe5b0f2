"""What a landed file is: content hashes, a content-addressed copy, its sniffed type and
its sidecars. Plain Python, shared by the sensor, the catalog asset and the CLI."""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import filetype
import xxhash

CHUNK = 1 << 20
SUBTITLE_EXT = {".srt", ".vtt"}
METADATA_EXT = {".json", ".txt", ".nfo"}
ARTWORK_EXT = {".jpg", ".jpeg", ".png", ".webp"}
SIDECAR_EXT = SUBTITLE_EXT | METADATA_EXT | ARTWORK_EXT
IGNORED_PREFIXES = (".", "~", "_tmp")
_RANK = {"video": 0, "audio": 1, "document": 2, "image": 3}
TEXT_MIME_BY_EXT = {".md": "text/markdown", ".markdown": "text/markdown"}


class CatalogError(Exception):
    """A file that is refused before analysis (empty, mismatched type, too large)."""


def media_type_of(mime: str | None) -> str | None:
    if not mime:
        return None
    major = mime.split("/")[0]
    if major in ("video", "audio", "image"):
        return major
    if mime in ("application/pdf", "text/plain", "text/markdown"):
        return "document"
    return None


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start > len(head) - 4  # a multi-byte character cut at the end
    return True


def sniff_mime(path: Path, head: bytes) -> str:
    """The type the bytes say, never the extension alone (text formats excepted)."""
    kind = filetype.guess(head)
    if kind is not None:
        mime = kind.mime
        if mime == "audio/x-wav":
            return "audio/wav"
        if mime == "video/mp4" and path.suffix.lower() == ".m4a":
            return "audio/mp4"
        return mime
    if _looks_like_text(head):
        return TEXT_MIME_BY_EXT.get(path.suffix.lower(), "text/plain")
    return "application/octet-stream"


def expected_mime(path: Path) -> str | None:
    return TEXT_MIME_BY_EXT.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]


def check_type(path: Path, mime: str) -> None:
    """Refuse a file whose name promises one kind of media and whose bytes are another."""
    expected = media_type_of(expected_mime(path))
    actual = media_type_of(mime)
    if expected and actual and expected != actual:
        raise CatalogError(
            f"content is {mime} ({actual}) but the name {path.name!r} says {expected}"
        )
    if expected and actual is None:
        raise CatalogError(f"content is not a readable {expected} file (sniffed {mime})")


@dataclass
class StoredFile:
    sha256: str
    xxh128: str
    size_bytes: int
    mime_type: str
    store_path: Path


def store_file(src: Path, objects: Path, max_bytes: int) -> StoredFile:
    """Hash while copying into the content-addressed store, in one read of the source.

    The copy goes to a temp name and is renamed, so a crash leaves no half object."""
    size = src.stat().st_size
    if size == 0:
        raise CatalogError("file is empty (0 bytes)")
    if size > max_bytes:
        raise CatalogError(f"file is {size} bytes, over the limit of {max_bytes}")
    objects.mkdir(parents=True, exist_ok=True)
    sha, xxh = hashlib.sha256(), xxhash.xxh3_128()
    fd, tmp_name = tempfile.mkstemp(dir=objects, prefix=".incoming-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, src.open("rb") as f:
            head = f.read(8192)
            for chunk in _chunks(f, head):
                sha.update(chunk)
                xxh.update(chunk)
                out.write(chunk)
        mime = sniff_mime(src, head)
        digest = sha.hexdigest()
        target = objects / digest[:2] / f"{digest}{safe_suffix(src)}"
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            tmp.unlink()
        else:
            os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return StoredFile(digest, xxh.hexdigest(), size, mime, target)


def safe_suffix(path: Path) -> str:
    """The extension, if it is a plain one; odd or endless ones are dropped from store names."""
    suffix = path.suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,12}", suffix) else ""


def _chunks(f, head: bytes) -> Iterable[bytes]:
    yield head
    while chunk := f.read(CHUNK):
        yield chunk


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
    if (ext in METADATA_EXT and _rank(primary) < _rank(candidate)) or ext == ".json":
        return "metadata"
    return None


def _stem_key(path: Path) -> tuple[Path, str]:
    return path.parent, path.name.split(".")[0].lower()


def group_files(paths: Iterable[Path]) -> list[FileGroup]:
    """Pair sidecars with their primary; what pairs with nothing stands alone."""
    by_stem: dict[tuple[Path, str], list[Path]] = {}
    for p in sorted(paths):
        by_stem.setdefault(_stem_key(p), []).append(p)
    groups: list[FileGroup] = []
    for members in by_stem.values():
        members.sort(key=lambda p: (_rank(p), p.suffix.lower() in SIDECAR_EXT, p.name))
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
