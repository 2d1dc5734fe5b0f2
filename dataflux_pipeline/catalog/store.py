"""The catalog's own operations: sessions, the generation counter readers watch, the
event log, liveness, display names, id prefixes and partition locks. Changes made by the
sensors, the pipeline steps and the service are in their own modules and use these."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dataflux_pipeline.catalog.models import (
    Asset,
    Counter,
    Event,
    Exclusion,
    PartitionLock,
    Source,
    SourcePath,
    now,
)
from dataflux_pipeline.db import Database, database_for
from dataflux_pipeline.settings import SourceConfig

GENERATION = "generation"
HEX = frozenset("0123456789abcdef")
MIN_PREFIX = 8
HOLDING = ("present", "failed", "pending")  # a path being re-hashed holds its content until then


class AmbiguousId(LookupError):
    def __init__(self, prefix: str, candidates: list[str]) -> None:
        super().__init__(f"id prefix {prefix!r} matches {len(candidates)} assets")
        self.prefix = prefix
        self.candidates = candidates


@dataclass
class Change:
    """What one transaction did, for metadata and for the steps that follow."""

    claimed: list[str] = field(default_factory=list)  # contents this partition analyzes
    touched: set[str] = field(default_factory=set)  # contents whose index rows may change
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n


class Catalog:
    def __init__(self, db: Database) -> None:
        self.db = db

    @classmethod
    def open(cls, url: str) -> Catalog:
        return cls(database_for(url))

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.db.session() as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self.db.reading() as session:
            yield session

    # ---- what readers watch ------------------------------------------------------------
    def generation(self) -> int:
        with self.reading() as s:
            return s.scalar(select(Counter.value).where(Counter.name == GENERATION)) or 0

    @staticmethod
    def bump(s: Session) -> None:
        if s.get(Counter, GENERATION) is None:
            s.add(Counter(name=GENERATION, value=0))
            s.flush()
        s.execute(update(Counter).where(Counter.name == GENERATION).values(value=Counter.value + 1))

    @staticmethod
    def event(s: Session, kind: str, asset_id: str | None = None, **fields: Any) -> None:
        known = {k: fields.pop(k) for k in ("source_id", "path", "actor", "run_id") if k in fields}
        s.add(Event(kind=kind, asset_id=asset_id, detail=fields, **known))

    # ---- sources -----------------------------------------------------------------------
    def ensure_sources(self, sources: Sequence[SourceConfig]) -> None:
        with self.session() as s:
            for src in sources:
                row = s.get(Source, src.name)
                kind = "s3" if src.remote else ("uploads" if src.name == "uploads" else "folder")
                values = {
                    "kind": kind,
                    "uri": src.uri,
                    "copy": src.copy_files,
                    "owner": src.owner,
                    "group": src.group,
                }
                if row is None:
                    s.add(Source(id=src.name, **values))
                else:
                    for k, v in values.items():
                        setattr(row, k, v)

    # ---- liveness ----------------------------------------------------------------------
    @staticmethod
    def refresh(s: Session, asset_ids: Iterable[str]) -> set[str]:
        """Recompute liveness and display name; returns the assets whose index rows must
        change (liveness or name moved). Marks them index-dirty and bumps the generation."""
        ids = sorted(set(asset_ids))
        if not ids:
            return set()
        paths: dict[str, list[SourcePath]] = {}
        rows = s.scalars(
            select(SourcePath)
            .where(SourcePath.asset_id.in_(ids), SourcePath.state.in_(HOLDING))
            .order_by(SourcePath.first_seen, SourcePath.path)
        )
        for sp in rows:
            paths.setdefault(sp.asset_id, []).append(sp)
        excluded = set(s.scalars(select(Exclusion.asset_id).where(Exclusion.asset_id.in_(ids))))
        changed: set[str] = set()
        stamp = now()
        for asset in s.scalars(select(Asset).where(Asset.asset_id.in_(ids))):
            holders = paths.get(asset.asset_id, [])
            live = bool(holders) and asset.deleted_at is None and asset.asset_id not in excluded
            first = holders[0] if holders else None
            name = (first.source_id, first.path) if first else (asset.source_id, asset.path)
            if live != asset.live or name != (asset.source_id, asset.path):
                changed.add(asset.asset_id)
                asset.index_dirty = True
                asset.updated_at = stamp
            if live and not asset.live:
                asset.removed_at = None
                asset.purged_at = None
            elif asset.live and not live:
                asset.removed_at = stamp
            asset.live = live
            asset.source_id, asset.path = name
            if first is not None:
                asset.file_name = first.path.rsplit("/", 1)[-1]
        if changed:
            Catalog.bump(s)
        return changed

    # ---- lookups -----------------------------------------------------------------------
    def get(self, asset_id: str) -> Asset | None:
        with self.reading() as s:
            return s.get(Asset, asset_id)

    def resolve(self, ident: str, among: Collection[str] | None = None) -> str | None:
        """A full id, or the one kept asset whose id starts with a prefix of at least 8 hex
        characters (only those `among`, when given); AmbiguousId when several do."""
        if len(ident) == 64 or ident.startswith("unreadable-"):
            return ident
        if len(ident) < MIN_PREFIX or not set(ident) <= HEX:
            return None
        if among is not None:
            found = sorted(a for a in among if a.startswith(ident))[:20]
        else:
            with self.reading() as s:
                found = list(
                    s.scalars(
                        select(Asset.asset_id)
                        .where(Asset.asset_id.startswith(ident), Asset.purged_at.is_(None))
                        .order_by(Asset.asset_id)
                        .limit(20)
                    )
                )
        if len(found) > 1:
            raise AmbiguousId(ident, found)
        return found[0] if found else None

    def excluded(self, asset_ids: Iterable[str]) -> set[str]:
        """Which of these contents were deleted and must leave no row anywhere."""
        ids = list(set(asset_ids))
        with self.reading() as s:
            return set(s.scalars(select(Exclusion.asset_id).where(Exclusion.asset_id.in_(ids))))

    def counts(self) -> dict[str, int]:
        with self.reading() as s:
            rows = s.execute(
                select(Asset.status, func.count()).where(Asset.live).group_by(Asset.status)
            )
            return {status: n for status, n in rows}

    # ---- partition locks ---------------------------------------------------------------
    @contextmanager
    def partition_lock(
        self, partition: str, ttl_s: float = 300.0, wait_s: float = 600.0
    ) -> Iterator[None]:
        """Held by whoever rewrites a partition's table files: a run's steps and a purge
        must not interleave their read-modify-write of the same files."""
        holder = f"{socket.gethostname()}:{os.getpid()}:{time.monotonic_ns()}"
        deadline = time.monotonic() + wait_s
        while True:
            try:
                with self.session() as s:
                    lock = s.get(PartitionLock, partition)
                    if lock is not None and (
                        _aware(lock.expires_at) < now() or _holder_gone(lock.holder)
                    ):
                        s.delete(lock)
                        s.flush()
                        lock = None
                    if lock is None:
                        s.add(
                            PartitionLock(
                                partition=partition,
                                holder=holder,
                                expires_at=now() + timedelta(seconds=ttl_s),
                            )
                        )
                        break
            except IntegrityError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"partition {partition} stayed locked for {wait_s:.0f}s")
            time.sleep(0.2)
        try:
            yield
        finally:
            with self.session() as s:
                s.execute(
                    delete(PartitionLock).where(
                        PartitionLock.partition == partition, PartitionLock.holder == holder
                    )
                )


BACKUP_HOLD = "__backup__"


def purges_held(catalog: Catalog) -> bool:
    """A backup is copying: nothing it may still need is purged meanwhile."""
    with catalog.reading() as s:
        lock = s.get(PartitionLock, BACKUP_HOLD)
        return lock is not None and _aware(lock.expires_at) > now()


def _holder_gone(holder: str) -> bool:
    """The holder ran on this machine and its process is gone (killed mid-write): its
    lock is stale now, not when it expires. A holder elsewhere is trusted until then."""
    host, _, rest = holder.partition(":")
    pid = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
