"""Which landed files are new and stable, how they group into batches, and the manifests
that make a batch re-runnable (a backfill reads the same file list).

Which versions are new comes from the live catalog: a batch's versions are registered
there as pending when it is planned, so a later tick does not plan them again, and the
partition key (from the batch's content and the moment) doubles as the run_key."""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Literal

from pydantic import BaseModel, Field

from dataflux_pipeline.intake.sidecars import group_files


class BatchFile(BaseModel):
    source: str = "landing"
    path: str = Field(description="Relative to the source's root.")
    size: int
    mtime_ns: int
    inode: int = 0
    sidecars: dict[str, str] = Field(default_factory=dict)
    sidecar_versions: dict[str, tuple[int, int]] = Field(
        default_factory=dict, description="Sidecar path -> (size, mtime_ns)."
    )


class Batch(BaseModel):
    partition: str
    created_at: datetime
    kind: Literal["files", "reanalysis"] = "files"
    files: list[BatchFile] = Field(default_factory=list)
    assets: list[str] = Field(default_factory=list, description="Contents to re-analyze.")


@dataclass(frozen=True)
class Observed:
    size: int
    mtime_ns: int
    # a folder file's inode: with size and mtime it recognises a rename (catalog.observe);
    # not part of a version's identity, and 0 where there is none (S3)
    inode: int = field(default=0, compare=False)


class Ledger:
    """Batch manifests on disk: what each partition's run takes."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path(self, partition: str) -> Path:
        return self.folder / f"{partition}.json"

    def write(self, batch: Batch) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{batch.partition}.{uuid.uuid4().hex}.tmp"
        # json.dumps escapes the surrogates of non-UTF-8 names; pydantic's writer refuses them
        tmp.write_text(json.dumps(batch.model_dump(mode="json"), indent=1))
        os.replace(tmp, self.path(batch.partition))

    def read(self, partition: str) -> Batch:
        path = self.path(partition)
        if not path.exists():
            raise FileNotFoundError(f"no manifest for partition {partition!r}")
        return Batch.model_validate(json.loads(path.read_text()))

    def partitions(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.json"))


def partition_key(parts: list, now: datetime) -> str:
    digest = hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:12]
    return f"{now:%Y%m%d}-{digest}"


def reanalysis_batch(asset_ids: list[str], now: float | None = None) -> Batch:
    stamp = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    key = "re-" + partition_key([*sorted(asset_ids), stamp.isoformat()], stamp)
    return Batch(partition=key, created_at=stamp, kind="reanalysis", assets=sorted(asset_ids))


@dataclass
class Plan:
    batches: list[Batch]
    pending: dict[str, Observed]


def plan_from_listing(
    listing: Mapping[str, Observed],
    known: Mapping[str, Observed],
    pending: Mapping[str, Observed],
    settle_seconds: float,
    batch_size: int,
    now: float | None = None,
    source: str = "landing",
) -> Plan:
    """New, stable files of one source grouped with their sidecars into batches of at
    most `batch_size`. `known` holds the version the catalog has of each present path.

    A file is stable once its mtime is `settle_seconds` old and its size and mtime match
    what the previous evaluation saw (if it saw it); unstable files are returned as
    pending. A changed sidecar brings its primary file back, so the pair is taken again;
    a sidecar whose primary is not listed is a file of its own."""
    now = time.time() if now is None else now
    fresh: dict[str, Observed] = {}
    new_pending: dict[str, Observed] = {}
    for rel, obs in listing.items():
        if known.get(rel) == obs:
            continue
        before = pending.get(rel)
        settled = now - obs.mtime_ns / 1e9 >= settle_seconds
        if settled and (before is None or before == obs):
            fresh[rel] = obs
        else:
            new_pending[rel] = obs
    root = PurePosixPath("/")
    groups = group_files(root / rel for rel in listing)
    files: list[BatchFile] = []
    for group in groups:
        rels = [p.relative_to(root).as_posix() for p in group.paths]
        primary = rels[0]
        if not any(r in fresh for r in rels) or any(r in new_pending for r in rels):
            continue
        obs = listing[primary]
        sidecars = {k: v.relative_to(root).as_posix() for k, v in group.sidecars.items()}
        versions = {v: (listing[v].size, listing[v].mtime_ns) for v in sidecars.values()}
        files.append(
            BatchFile(
                source=source,
                path=primary,
                size=obs.size,
                mtime_ns=obs.mtime_ns,
                inode=obs.inode,
                sidecars=sidecars,
                sidecar_versions=versions,
            )
        )
    files.sort(key=lambda f: f.path)
    stamp = datetime.fromtimestamp(now, UTC)
    batches = []
    for start in range(0, len(files), batch_size):
        chunk = files[start : start + batch_size]
        parts = [(f.source, f.path, f.size, f.mtime_ns, sorted(f.sidecars.items())) for f in chunk]
        # the moment is part of the key: the same version may come back after a removal
        key = partition_key([*parts, stamp.isoformat()], stamp)
        batches.append(Batch(partition=key, created_at=stamp, files=chunk))
    return Plan(batches=batches, pending=new_pending)


def encode_cursor(state: Mapping[str, Mapping[str, Observed]], **extra) -> str:
    """Per source: the files still settling (size, mtime last seen)."""
    pending = {src: {k: [v.size, v.mtime_ns] for k, v in p.items()} for src, p in state.items()}
    return json.dumps({"pending": pending, **extra})


def decode_cursor(cursor: str | None) -> tuple[dict[str, dict[str, Observed]], dict]:
    if not cursor:
        return {}, {}
    raw = json.loads(cursor)
    pending = raw.pop("pending", {})
    state = {
        src: {k: Observed(int(v[0]), int(v[1])) for k, v in files.items()}
        for src, files in pending.items()
        if isinstance(files, dict)
    }
    return state, raw
