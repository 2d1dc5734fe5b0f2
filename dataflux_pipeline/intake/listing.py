"""Listing a source: a folder walked on disk, or an S3 prefix through the S3 API. Both give
relative path -> (size, mtime) and skip hidden, temporary and partial names."""

from __future__ import annotations

import os
from pathlib import Path

from dataflux_pipeline.intake.batches import Observed
from dataflux_pipeline.intake.identity import IGNORED_PREFIXES, path_key
from dataflux_pipeline.intake.sidecars import is_candidate


def list_folder(root: Path) -> dict[str, Observed]:
    """Every candidate file under `root` (recursively). Symlinks are listed like files;
    the intake refuses those that point outside the source, with a reason."""
    root = root.resolve()
    found: dict[str, Observed] = {}
    if not root.is_dir():
        return found
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            path = Path(dirpath) / name
            try:
                if not is_candidate(path):
                    continue
                st = path.stat()
            except OSError:
                continue
            found[path_key(path.relative_to(root).as_posix())] = Observed(
                st.st_size, st.st_mtime_ns, st.st_ino
            )
    return found


def split_uri(uri: str) -> tuple[str, str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    return bucket, prefix.strip("/") + "/" if prefix.strip("/") else ""


def list_s3(client, uri: str, start_after: str | None = None) -> dict[str, Observed]:
    """Objects under the prefix, keyed by path relative to it (S3 writes are whole, so
    LastModified is the moment the object became complete)."""
    bucket, prefix = split_uri(uri)
    kwargs = {"Bucket": bucket, "Prefix": prefix}
    if start_after:
        kwargs["StartAfter"] = start_after
    found: dict[str, Observed] = {}
    for page in client.get_paginator("list_objects_v2").paginate(**kwargs):
        for obj in page.get("Contents", []):
            rel = obj["Key"][len(prefix) :]
            if not rel or rel.endswith("/"):
                continue
            if any(part.startswith(IGNORED_PREFIXES) for part in rel.split("/")):
                continue
            found[rel] = Observed(obj["Size"], int(obj["LastModified"].timestamp() * 1e9))
    return found


def next_start_after(uri: str, listing: dict, pending: dict, current: str | None) -> str | None:
    """Resume after every key already settled, but never past one still settling."""
    _, prefix = split_uri(uri)
    settled = [k for k in listing if k not in pending]
    if pending:
        first_pending = min(pending)
        settled = [k for k in settled if k < first_pending]
    if not settled:
        return current
    return max(current or "", prefix + max(settled))
