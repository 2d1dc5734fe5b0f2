"""What the analysis and index steps tell the catalog, and what they ask of it.

A partition analyzes the contents it claimed (`pending_partition`) and re-analyzes those
whose current analysis it holds (`analysis_partition`, a re-run). A new analysis replaces
the current one only when it is promoted, just before it is indexed: until then search
keeps serving the old one, so a failed re-analysis loses nothing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select

from dataflux_pipeline.catalog.models import Asset, SourcePath, StaleRows, now
from dataflux_pipeline.catalog.people import forget_assets
from dataflux_pipeline.catalog.store import Catalog


@dataclass
class Work:
    """One content to analyze: where its bytes can be read, and its sidecars."""

    asset_id: str
    mime_type: str
    file_name: str | None
    store_path: str | None
    size_bytes: int | None
    xxh128: str | None
    paths: list[tuple[str, str]]  # (source, path) of present paths, oldest first
    sidecars: dict[str, dict[str, Any]] = field(default_factory=dict)
    current: bool = False  # this partition holds its current analysis (a re-run)


@dataclass
class Outcome:
    status: str  # analyzed | failed
    error: str | None = None
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None
    technical: dict[str, Any] = field(default_factory=dict)
    analyzers: dict[str, str] = field(default_factory=dict)


def work(catalog: Catalog, partition: str) -> list[Work]:
    with catalog.reading() as s:
        assets = list(
            s.scalars(
                select(Asset)
                .where(
                    or_(
                        Asset.pending_partition == partition,
                        Asset.analysis_partition == partition,
                    ),
                    Asset.purged_at.is_(None),
                    Asset.deleted_at.is_(None),
                )
                .order_by(Asset.asset_id)
            )
        )
        ids = [a.asset_id for a in assets]
        paths: dict[str, list[tuple[str, str]]] = {}
        for sp in s.scalars(
            select(SourcePath)
            .where(SourcePath.asset_id.in_(ids), SourcePath.state == "present")
            .order_by(SourcePath.first_seen)
        ):
            paths.setdefault(sp.asset_id, []).append((sp.source_id, sp.path))
    return [
        Work(
            asset_id=a.asset_id,
            mime_type=a.mime_type or "",
            file_name=a.file_name,
            store_path=a.store_path,
            size_bytes=a.size_bytes,
            xxh128=a.xxh128,
            paths=paths.get(a.asset_id, []),
            sidecars=dict(a.details.get("sidecars") or {}),
            current=a.analysis_partition == partition,
        )
        for a in assets
    ]


def record_analysis(
    catalog: Catalog, partition: str, outcomes: Mapping[str, Outcome], run_id: str | None = None
) -> None:
    with catalog.session() as s:
        stamp = now()
        for asset_id, out in outcomes.items():
            asset = s.get(Asset, asset_id)
            if asset is None:
                continue
            asset.updated_at = stamp
            if out.status == "analyzed":
                asset.status, asset.error = "analyzed", None
                asset.duration_s, asset.width, asset.height = out.duration_s, out.width, out.height
                kept = {k: v for k, v in asset.details.items() if k != "failed_in"}
                asset.details = kept | {"technical": out.technical}
                asset.analyzers, asset.analysis_run = out.analyzers, run_id
                Catalog.event(s, "analyzed", asset_id, run_id=run_id, partition=partition)
                continue
            if asset.analysis_partition not in (None, partition):
                asset.error = f"re-analysis failed: {out.error}"  # the old one stays served
            else:
                asset.status, asset.error = "failed", out.error
                asset.analysis_partition = None
                asset.details = asset.details | {"failed_in": partition}
            if asset.pending_partition == partition:  # another's claim stays (a re-run here)
                asset.pending_partition = None
            asset.index_dirty = True
            Catalog.event(s, "analysis_failed", asset_id, run_id=run_id, error=out.error)
        Catalog.bump(s)


def promote(catalog: Catalog, partition: str) -> list[str]:
    """Make this partition's new analyses current; the rows of the ones they replace
    become stale (purged later). Returns every content whose current analysis is here."""
    with catalog.session() as s:
        stamp = now()
        rows = s.scalars(
            select(Asset).where(
                or_(Asset.pending_partition == partition, Asset.analysis_partition == partition)
            )
        )
        current, moved = [], []
        for asset in rows:
            if asset.pending_partition == partition and asset.status == "analyzed":
                old = asset.analysis_partition
                if old is not None and old != partition:
                    s.merge(StaleRows(asset_id=asset.asset_id, partition=old))
                    moved.append(asset.asset_id)
                asset.analysis_partition, asset.pending_partition = partition, None
                asset.index_dirty, asset.updated_at = True, stamp
            if asset.analysis_partition == partition:
                current.append(asset.asset_id)
        Catalog.bump(s)
    if moved:  # their faces are found again in the new analysis
        forget_assets(catalog, moved)
    return sorted(current)
