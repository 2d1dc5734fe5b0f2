"""What a landed file is: content hashes, a content-addressed copy, its sniffed type and
its sidecars. Plain Python, shared by the sensor, the catalog asset and the CLI."""

from __future__ import annotations

import hashlib
import json
import mimetypes
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
        target = objects / digest[:2] / f"{digest}{src.suffix.lower()}"
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            tmp.unlink()
        else:
            os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return StoredFile(digest, xxh.hexdigest(), size, mime, target)


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


def _unreadable_id(uri: str) -> str:
    """A stable id for a file whose bytes could not be read (no content hash exists)."""
    return "unreadable-" + hashlib.sha256(uri.encode()).hexdigest()[:48]


def catalog_file(
    path: Path,
    sidecars: dict[str, Path],
    objects: Path,
    max_bytes: int,
    supported: Callable[[str], str | None],
) -> dict[str, Any]:
    """One `assets` row for a landed file; failures become a `failed` row with the reason."""
    uri = path.resolve().as_uri() if path.exists() else path.absolute().as_uri()
    row: dict[str, Any] = {
        "uri": uri,
        "uris": [uri],
        "file_name": path.name,
        "arrived_at": datetime.now(UTC),
        "status": "cataloged",
        "error": None,
    }
    try:
        if not path.is_file():
            raise CatalogError("file disappeared from the landing folder before it was read")
        size = path.stat().st_size
        row["size_bytes"] = size
        if size == 0:
            empty = hashlib.sha256(b"").hexdigest()
            row.update(asset_id=empty, sha256=empty, mime_type="application/x-empty")
            raise CatalogError("file is empty (0 bytes)")
        stored = store_file(path, objects, max_bytes)
        row.update(
            asset_id=stored.sha256,
            sha256=stored.sha256,
            xxh128=stored.xxh128,
            mime_type=stored.mime_type,
            store_path=stored.store_path.relative_to(objects.parent).as_posix(),
        )
        check_type(path, stored.mime_type)
        row["media_type"] = supported(stored.mime_type)
        if row["media_type"] is None:
            row.update(status="skipped", error=f"unsupported file type {stored.mime_type}")
        meta = {}
        for kind, side in sidecars.items():
            if side.is_file() and side.stat().st_size:
                copy = store_file(side, objects, max_bytes)
                meta[kind] = {
                    "uri": side.resolve().as_uri(),
                    "store_path": copy.store_path.relative_to(objects.parent).as_posix(),
                }
        row["metadata"] = json.dumps({"sidecars": meta})
    except (CatalogError, OSError) as exc:
        row.setdefault("asset_id", _unreadable_id(uri))
        row.update(status="failed", error=str(exc))
    return row


def merge_duplicates(rows: list[dict[str, Any]], known: set[str]) -> list[dict[str, Any]]:
    """One row per content within a batch (extra names go to `uris`); content already
    cataloged by another batch is kept as a `duplicate` row pointing at the first one."""
    by_id: dict[str, dict[str, Any]] = {}
    for row in rows:
        first = by_id.get(row["asset_id"])
        if first is None:
            by_id[row["asset_id"]] = row
            if row["asset_id"] in known and row["status"] == "cataloged":
                row.update(status="duplicate", error="content already in the catalog")
        elif row["uri"] not in first["uris"]:
            first["uris"].append(row["uri"])
    return list(by_id.values())
