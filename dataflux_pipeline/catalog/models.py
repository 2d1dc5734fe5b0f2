"""The live catalog's tables: which source paths exist and what they hold now, which
contents (assets) are live, what was deleted and must stay out, and what happened when."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dataflux_pipeline.db.engine import Base


def now() -> datetime:
    return datetime.now(UTC)


class Source(Base):
    """A watched folder or S3 prefix, or the uploads area the service owns."""

    __tablename__ = "sources"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # folder | s3 | uploads
    uri: Mapped[str] = mapped_column(Text)
    copy: Mapped[bool] = mapped_column(Boolean, default=False)
    owner: Mapped[str | None] = mapped_column(String(128))
    group: Mapped[str | None] = mapped_column(String(128))
    visibility: Mapped[str] = mapped_column(String(16), default="public", server_default="public")


class SourcePath(Base):
    """One path in a source and the one content it holds now (a version: size + mtime)."""

    __tablename__ = "source_paths"

    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"), primary_key=True)
    path: Mapped[str] = mapped_column(String(4096), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    inode: Mapped[int | None] = mapped_column(BigInteger)  # folder sources: renames
    # pending (batched, not hashed yet) | present | failed | removed
    state: Mapped[str] = mapped_column(String(16), index=True)
    asset_id: Mapped[str | None] = mapped_column(String(80), index=True)
    batch: Mapped[str | None] = mapped_column(String(128))
    error: Mapped[str | None] = mapped_column(Text)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Asset(Base):
    """One content (SHA-256). Live while some present path holds it and it is neither
    deleted nor excluded. Its current analysis lives in `analysis_partition`; a newer one
    in progress in `pending_partition` replaces it only once it is indexed."""

    __tablename__ = "assets"

    asset_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    media_type: Mapped[str | None] = mapped_column(String(16))
    mime_type: Mapped[str | None] = mapped_column(String(128))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    xxh128: Mapped[str | None] = mapped_column(String(32))
    store_path: Mapped[str | None] = mapped_column(Text)
    source_id: Mapped[str | None] = mapped_column(String(64))
    path: Mapped[str | None] = mapped_column(String(4096))  # the name it is shown under
    file_name: Mapped[str | None] = mapped_column(Text)
    # cataloged | analyzed | indexed | failed | skipped
    status: Mapped[str] = mapped_column(String(16), index=True)
    error: Mapped[str | None] = mapped_column(Text)
    duration_s: Mapped[float | None] = mapped_column(Float)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict] = mapped_column(JSON, default=dict)  # sidecars, technical, exif
    analyzers: Mapped[dict] = mapped_column(JSON, default=dict)  # name -> version
    analysis_partition: Mapped[str | None] = mapped_column(String(128), index=True)
    pending_partition: Mapped[str | None] = mapped_column(String(128), index=True)
    analysis_run: Mapped[str | None] = mapped_column(String(64))
    live: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    index_dirty: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    reanalyze: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    arrived_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_by: Mapped[str | None] = mapped_column(String(128))
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # private: its owners only; shared: owners and those it is shared with; public: anyone
    # signed in to the deployment
    visibility: Mapped[str] = mapped_column(String(16), default="public", server_default="public")


class AssetAccess(Base):
    """Who may read a content besides admins: owners and those it is shared with.
    `principal` is `u:<user id>` or `g:<group id>`."""

    __tablename__ = "asset_access"

    asset_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    principal: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    relation: Mapped[str] = mapped_column(String(16))  # owner | holder | reader
    granted_by: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class UploadIntent(Base):
    """Who uploaded a content and how visible they want it, until the intake creates it."""

    __tablename__ = "upload_intents"

    asset_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    principal: Mapped[str] = mapped_column(String(64), primary_key=True)
    visibility: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class StaleRows(Base):
    """Rows of an asset left in a partition that no longer holds its analysis."""

    __tablename__ = "stale_rows"

    asset_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    partition: Mapped[str] = mapped_column(String(128), primary_key=True)


class Exclusion(Base):
    """Deleted content that a scan must not bring back while the file still sits there."""

    __tablename__ = "exclusions"

    asset_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class Event(Base):
    """Append-only: what happened to which content or path, when, and who did it."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, index=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    asset_id: Mapped[str | None] = mapped_column(String(80), index=True)
    source_id: Mapped[str | None] = mapped_column(String(64))
    path: Mapped[str | None] = mapped_column(String(4096))
    actor: Mapped[str | None] = mapped_column(String(128))
    run_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class Counter(Base):
    """Named counters; `generation` moves on every change a reader must see."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class PartitionLock(Base):
    """Whoever rewrites a partition's table files holds its lock (runs and purges)."""

    __tablename__ = "partition_locks"

    partition: Mapped[str] = mapped_column(String(128), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PersonRecord(Base):
    """A person the face clustering found; `total` and `count` keep its exact centroid.
    A merged person points at the one it was folded into."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    total: Mapped[list] = mapped_column(JSON)
    count: Mapped[int] = mapped_column(Integer, default=0)
    merged_into: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class PersonFace(Base):
    """Which person a face (a `face` segment) was assigned to, and its embedding, so a
    face that leaves the catalog can leave its person's centroid exactly."""

    __tablename__ = "person_faces"

    segment_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    asset_id: Mapped[str] = mapped_column(String(80), index=True)
    person_id: Mapped[int] = mapped_column(Integer, index=True)
    embedding: Mapped[list] = mapped_column(JSON)
