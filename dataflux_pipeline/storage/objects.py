"""Where the catalog's files live: a local folder or an S3 prefix, behind one interface.

Analyzers and decoders need real files, so objects are staged in a local folder (the
`store/` under DATAFLUX_HOME) and mirrored to S3 when the catalog lives there; in S3 mode
that folder is a cache a worker can drop at any time."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import fsspec


def is_remote(uri: str | Path) -> bool:
    return str(uri).startswith("s3://")


def s3_options() -> dict[str, Any]:
    """s3fs options from the standard AWS environment (endpoint for MinIO/moto-style S3)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    options: dict[str, Any] = {}
    if endpoint:
        options["endpoint_url"] = endpoint
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        options["client_kwargs"] = {"region_name": region}
    return options


def lance_options() -> dict[str, str]:
    """The same S3 settings in the form LanceDB's object store reads them."""
    s3 = s3_options()
    options = {}
    if "endpoint_url" in s3:
        options["aws_endpoint"] = s3["endpoint_url"]
        options["allow_http"] = str(s3["endpoint_url"].startswith("http://")).lower()
    for env, key in (
        ("AWS_ACCESS_KEY_ID", "aws_access_key_id"),
        ("AWS_SECRET_ACCESS_KEY", "aws_secret_access_key"),
        ("AWS_SESSION_TOKEN", "aws_session_token"),
        ("AWS_REGION", "aws_region"),
    ):
        if os.environ.get(env):
            options[key] = os.environ[env]
    return options


def filesystem(uri: str | Path) -> tuple[fsspec.AbstractFileSystem, str]:
    """The filesystem and the path inside it for a local path or an s3:// URI."""
    if is_remote(uri):
        import s3fs

        return s3fs.S3FileSystem(**s3_options()), str(uri).removeprefix("s3://").rstrip("/")
    return fsspec.filesystem("file"), str(Path(uri).resolve())


class Storage:
    """Files under one root; `rel` paths use forward slashes and never leave the root."""

    def __init__(self, uri: str | Path) -> None:
        self.uri = str(uri)
        self.remote = is_remote(uri)
        self.fs, self.root = filesystem(uri)

    def full(self, rel: str) -> str:
        if rel.startswith("/") or ".." in rel.split("/"):
            raise ValueError(f"path {rel!r} leaves the storage root")
        return f"{self.root}/{rel}"

    def exists(self, rel: str) -> bool:
        return self.fs.exists(self.full(rel))

    def put_file(self, local: Path, rel: str) -> None:
        """Copy a local file in whole: S3 objects appear atomically; locally, temp + rename."""
        if self.remote:
            self.fs.put_file(str(local), self.full(rel))
            return
        target = Path(self.full(rel))
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        shutil.copyfile(local, tmp)
        os.replace(tmp, target)

    def get_file(self, rel: str, local: Path) -> Path:
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = local.with_name(f".{local.name}.{uuid.uuid4().hex}.tmp")
        self.fs.get_file(self.full(rel), str(tmp))
        os.replace(tmp, local)
        return local

    def open(self, rel: str, mode: str = "rb"):
        return self.fs.open(self.full(rel), mode)

    def remove(self, rel: str) -> None:
        self.fs.rm_file(self.full(rel))

    def remove_tree(self, rel: str) -> None:
        if self.fs.exists(self.full(rel)):
            self.fs.rm(self.full(rel), recursive=True)

    def put_tree(self, local: Path, rel: str) -> int:
        """Mirror a local folder (thumbnails of one asset) after clearing the remote one."""
        self.remove_tree(rel)
        files = [p for p in local.rglob("*") if p.is_file()] if local.is_dir() else []
        for path in files:
            self.put_file(path, f"{rel}/{path.relative_to(local).as_posix()}")
        return len(files)


def push(remote: Storage | None, local_root: Path, rels: Iterable[str]) -> int:
    """Copy staged objects up to the remote store, skipping those already there."""
    if remote is None:
        return 0
    sent = 0
    for rel in rels:
        if not remote.exists(rel):
            remote.put_file(local_root / rel, rel)
            sent += 1
    return sent


def pull(remote: Storage | None, local_root: Path, rels: Iterable[str]) -> None:
    """Make staged copies of remote objects that this worker does not have yet."""
    if remote is None:
        return
    for rel in rels:
        if not (local_root / rel).exists():
            remote.get_file(rel, local_root / rel)
