"""What a landed file is: content hashes, a content-addressed copy and its sniffed type.
Plain Python, shared by the sensors, the intake asset, the service and the CLI."""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import filetype
import xxhash

CHUNK = 1 << 20
IGNORED_PREFIXES = (".", "~", "_tmp")
TEXT_MIME_BY_EXT = {".md": "text/markdown", ".markdown": "text/markdown"}


class IntakeError(Exception):
    """A file that is refused before analysis (empty, mismatched type, too large)."""


_ESCAPED = re.compile(r"\\(\\|x[89a-f][0-9a-f])")


def path_key(rel: str) -> str:
    """A folder path as the catalog, the manifests and the tables keep it: valid UTF-8.
    A name whose bytes are not UTF-8 (held by os.fsdecode as surrogates) or that holds a
    backslash is escaped (`\\x..` per undecodable byte, `\\\\` per backslash); any other
    name is its own key. `os_path` turns a key back into the name on disk."""
    if "\\" not in rel and not any("\udc80" <= ch <= "\udcff" for ch in rel):
        return rel
    out = []
    for ch in rel:
        if ch == "\\":
            out.append("\\\\")
        elif "\udc80" <= ch <= "\udcff":
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        else:
            out.append(ch)
    return "".join(out)


def os_path(key: str) -> str:
    """The name on disk of a folder path kept as `path_key(name)`."""
    if "\\" not in key:
        return key
    return _ESCAPED.sub(
        lambda m: "\\" if m.group(1) == "\\" else chr(0xDC00 + int(m.group(1)[1:], 16)), key
    )


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
        raise IntakeError(
            f"content is {mime} ({actual}) but the name {path.name!r} says {expected}"
        )
    if expected and actual is None:
        raise IntakeError(f"content is not a readable {expected} file (sniffed {mime})")


@dataclass
class FileIdentity:
    sha256: str
    xxh128: str
    size_bytes: int
    mime_type: str
    store_path: Path | None  # None when the original is referenced, not copied


def contained(path: Path, root: Path) -> Path:
    """`path` with every link resolved, or IntakeError if that leaves `root`: a link (or
    a link in a parent folder) must not bring a file from elsewhere into the catalog."""
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise IntakeError(f"cannot read {path.name!r}: {exc.__class__.__name__}") from exc
    if not real.is_relative_to(root.resolve()):
        raise IntakeError(f"refused: {path.name!r} is a link that leads outside its source")
    return real


def read_file(src: Path, objects: Path | None, max_bytes: int) -> FileIdentity:
    """Hash in one read of the source; with `objects`, copy into the content-addressed
    store on the way (a temp name renamed, so a crash leaves no half object)."""
    size = src.stat().st_size
    if size == 0:
        raise IntakeError("file is empty (0 bytes)")
    if size > max_bytes:
        raise IntakeError(f"file is {size} bytes, over the limit of {max_bytes}")
    sha, xxh = hashlib.sha256(), xxhash.xxh3_128()
    tmp: Path | None = None
    out = None
    if objects is not None:
        objects.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=objects, prefix=".incoming-")
        tmp, out = Path(tmp_name), os.fdopen(fd, "wb")
    try:
        with src.open("rb") as f:
            head = f.read(8192)
            for chunk in _chunks(f, head):
                sha.update(chunk)
                xxh.update(chunk)
                if out is not None:
                    out.write(chunk)
        digest = sha.hexdigest()
        target = None
        if out is not None and tmp is not None and objects is not None:
            out.close()
            target = objects / digest[:2] / f"{digest}{safe_suffix(src)}"
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                tmp.unlink()
            else:
                os.replace(tmp, target)
    except BaseException:
        if out is not None:
            out.close()
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise
    return FileIdentity(digest, xxh.hexdigest(), size, sniff_mime(src, head), target)


def safe_suffix(path: Path) -> str:
    """The extension, if it is a plain one; odd or endless ones are dropped from store names."""
    suffix = path.suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,12}", suffix) else ""


def _chunks(f, head: bytes) -> Iterable[bytes]:
    yield head
    while chunk := f.read(CHUNK):
        yield chunk


def name_text(path: str | None) -> str | None:
    """A path as words: folders and the file name, split at punctuation, case changes
    and digit runs, extension dropped (`trips/Italy/IMG_2023-05-01_beach.jpg` ->
    `trips Italy IMG 2023 05 01 beach`)."""
    if not path:
        return None
    stem = path.rsplit(".", 1)[0] if "." in path.rsplit("/", 1)[-1] else path
    words = []
    for part in re.split(r"[\W_]+", stem):
        part = re.sub(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])", " ", part)
        words += re.sub(r"(?<=[a-zß-ÿ])(?=[A-ZÀ-Þ])", " ", part).split()
    return " ".join(words) or None
