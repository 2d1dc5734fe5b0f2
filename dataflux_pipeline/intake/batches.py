"""Landing-folder bookkeeping: which files are stable, how they group into batches, and
the manifests that make a batch re-runnable (a backfill reads the same file list).

Partition keys are derived from the batch's content (paths, sizes, mtimes), so a tick that
repeats after a crash proposes the same key and the same run_key: nothing starts twice."""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, Field

from dataflux_pipeline.intake.sidecars import group_files, is_candidate


class BatchFile(BaseModel):
    path: str = Field(description="Relative to the landing folder.")
    size: int
    mtime_ns: int
    sidecars: dict[str, str] = Field(default_factory=dict)


class Batch(BaseModel):
    partition: str
    created_at: datetime
    files: list[BatchFile]


@dataclass(frozen=True)
class Observed:
    size: int
    mtime_ns: int


def list_landing(landing: Path) -> dict[str, Observed]:
    """Every candidate file under `landing` (recursively). Symlinks are listed like files;
    the catalog refuses those that point outside the landing folder, with a reason."""
    root = landing.resolve()
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
            found[path.relative_to(root).as_posix()] = Observed(st.st_size, st.st_mtime_ns)
    return found


class Ledger:
    """Batch manifests on disk: the record of which file versions were taken."""

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
            raise FileNotFoundError(f"no manifest for partition {partition!r} at {path}")
        return Batch.model_validate(json.loads(path.read_text()))

    def batches(self) -> list[Batch]:
        if not self.folder.is_dir():
            return []
        return [self.read(p.stem) for p in sorted(self.folder.glob("*.json"))]

    def taken(self) -> set[tuple[str, int, int]]:
        """(path, size, mtime_ns) of every taken file; sidecars as (path, -1, -1)."""
        out: set[tuple[str, int, int]] = set()
        for batch in self.batches():
            out |= {(f.path, f.size, f.mtime_ns) for f in batch.files}
            out |= {(p, -1, -1) for f in batch.files for p in f.sidecars.values()}
        return out


def partition_key(files: list[BatchFile], now: datetime) -> str:
    digest = hashlib.sha256(
        json.dumps([(f.path, f.size, f.mtime_ns) for f in files]).encode()
    ).hexdigest()[:12]
    return f"{now:%Y%m%d}-{digest}"


@dataclass
class Plan:
    batches: list[Batch]
    pending: dict[str, Observed]


def plan_batches(
    landing: Path,
    ledger: Ledger,
    pending: dict[str, Observed],
    settle_seconds: float,
    batch_size: int,
    now: float | None = None,
) -> Plan:
    """New, stable files grouped with their sidecars into batches of at most `batch_size`.

    A file is stable once its mtime is `settle_seconds` old and its size and mtime match
    what the previous evaluation saw (if it saw it); unstable files are returned as pending.
    """
    return plan_from_listing(
        list_landing(landing), ledger, pending, settle_seconds, batch_size, now
    )


def plan_from_listing(
    listing: dict[str, Observed],
    ledger: Ledger,
    pending: dict[str, Observed],
    settle_seconds: float,
    batch_size: int,
    now: float | None = None,
) -> Plan:
    """The batching rules on any listing (folder or S3): relative path -> size and mtime."""
    now = time.time() if now is None else now
    taken = ledger.taken() if listing else set()
    sidecars_taken = {p for p, s, _ in taken if s == -1}
    fresh: dict[str, Observed] = {}
    new_pending: dict[str, Observed] = {}
    for rel, obs in listing.items():
        if (rel, obs.size, obs.mtime_ns) in taken or rel in sidecars_taken:
            continue
        before = pending.get(rel)
        settled = now - obs.mtime_ns / 1e9 >= settle_seconds
        if settled and (before is None or before == obs):
            fresh[rel] = obs
        else:
            new_pending[rel] = obs
    root = PurePosixPath("/")
    groups = group_files(root / rel for rel in fresh)
    files: list[BatchFile] = []
    for group in groups:
        rel = group.primary.relative_to(root).as_posix()
        obs = fresh[rel]
        sidecars = {k: v.relative_to(root).as_posix() for k, v in group.sidecars.items()}
        files.append(BatchFile(path=rel, size=obs.size, mtime_ns=obs.mtime_ns, sidecars=sidecars))
    files.sort(key=lambda f: f.path)
    stamp = datetime.fromtimestamp(now, UTC)
    batches = []
    for start in range(0, len(files), batch_size):
        chunk = files[start : start + batch_size]
        batches.append(Batch(partition=partition_key(chunk, stamp), created_at=stamp, files=chunk))
    return Plan(batches=batches, pending=new_pending)


def encode_pending(pending: dict[str, Observed], **extra) -> str:
    return json.dumps({"pending": {k: [v.size, v.mtime_ns] for k, v in pending.items()}, **extra})


def decode_pending(cursor: str | None) -> dict[str, Observed]:
    if not cursor:
        return {}
    raw = json.loads(cursor).get("pending", {})
    return {k: Observed(int(v[0]), int(v[1])) for k, v in raw.items()}
