"""Forgetting: contents that left their sources longer ago than the retention period,
and contents deleted through the API or CLI, lose their rows in every table, their
stored copies and thumbnails; rows left behind by a re-analysis go too. The catalog
keeps a tombstone (and, for deletions, the exclusion) so the event log stays readable."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_, select

from dataflux_pipeline.analyzers.playback import PROXIES
from dataflux_pipeline.catalog.models import Asset, StaleRows, now
from dataflux_pipeline.catalog.people import forget_assets
from dataflux_pipeline.catalog.store import Catalog, purges_held
from dataflux_pipeline.storage.objects import Storage
from dataflux_pipeline.storage.schemas import TABLES
from dataflux_pipeline.storage.tables import TableStore

THUMBNAILS = "thumbnails"


@dataclass
class PurgeReport:
    purged: list[str] = field(default_factory=list)
    rows_removed: dict[str, int] = field(default_factory=dict)
    files_removed: int = 0
    stale_rows_removed: int = 0

    def add_rows(self, table: str, n: int) -> None:
        if n:
            self.rows_removed[table] = self.rows_removed.get(table, 0) + n


def due(catalog: Catalog, retention_s: float, at: datetime | None = None) -> list[str]:
    """Contents to forget now: deleted ones, and non-live ones past the retention."""
    if purges_held(catalog):
        return []
    cutoff = (at or now()) - timedelta(seconds=retention_s)
    with catalog.reading() as s:
        rows = s.scalars(
            select(Asset.asset_id).where(
                Asset.purged_at.is_(None),
                Asset.live.is_(False),
                or_(Asset.deleted_at.isnot(None), Asset.removed_at <= cutoff),
            )
        )
        return sorted(rows)


def _drop_rows(
    catalog: Catalog,
    tables: TableStore,
    ids: list[str],
    holding: dict[str, list[str]],
    report: PurgeReport,
) -> None:
    for table, partitions in holding.items():
        for partition in partitions:
            with catalog.partition_lock(partition):
                report.add_rows(table, tables.drop_assets(table, partition, ids))


def _store_paths(asset: Asset) -> list[str]:
    paths = [asset.store_path] if asset.store_path else []
    for side in (asset.details.get("sidecars") or {}).values():
        if side.get("store_path"):
            paths.append(side["store_path"])
    return paths


def _in_use(catalog: Catalog, but: set[str]) -> set[str]:
    """Stored objects that other kept contents still point at (a sidecar two videos
    share, say)."""
    with catalog.reading() as s:
        kept = s.scalars(select(Asset).where(Asset.purged_at.is_(None)))
        return {p for a in kept if a.asset_id not in but for p in _store_paths(a)}


def purge(
    catalog: Catalog,
    tables: TableStore,
    store: Storage,
    ids: list[str],
    remote: Storage | None = None,
) -> PurgeReport:
    """Forget `ids` (which must already be out of the index: see projection.sync_index).

    A content is marked purged before anything of it goes, and only while it is not live:
    a file put back meanwhile is then claimed for a new analysis by its intake
    (catalog.intake), where before the purge went on to drop the rows the content was
    live with. Rows go only from the partitions that held them before the mark, and a
    content claimed again before the purge ends is analyzed once more (its thumbnails
    may have gone)."""
    report = PurgeReport()
    holding = {table: tables.partitions_with(table, ids) for table in TABLES} if ids else {}
    ids = _mark(catalog, ids)
    if ids:
        _drop_rows(catalog, tables, ids, holding, report)
        forget_assets(catalog, ids)
    with catalog.reading() as s:
        assets = list(s.scalars(select(Asset).where(Asset.asset_id.in_(ids))))
    in_use = _in_use(catalog, set(ids)) if assets else set()
    for asset in assets:
        derived = [f"{top}/{asset.asset_id[:2]}/{asset.asset_id}" for top in (THUMBNAILS, PROXIES)]
        for where in filter(None, (store, remote)):
            for folder in derived:
                if where.exists(folder):
                    where.remove_tree(folder)
                    report.files_removed += 1
            for rel in _store_paths(asset):
                if rel not in in_use and where.exists(rel):
                    where.remove(rel)
                    report.files_removed += 1
    with catalog.session() as s:
        for asset in s.scalars(select(Asset).where(Asset.asset_id.in_(ids))):
            Catalog.event(s, "purged", asset.asset_id, rows=sum(report.rows_removed.values()))
            report.purged.append(asset.asset_id)
            if asset.purged_at is None:
                asset.reanalyze = True  # claimed again while its rows and files were going
        Catalog.bump(s)
    return report


def _mark(catalog: Catalog, ids: list[str]) -> list[str]:
    """Mark the contents of `ids` that are still not live as purged; those are forgotten."""
    with catalog.session() as s:
        stamp = datetime.now(UTC)
        marked = []
        for asset in s.scalars(
            select(Asset).where(
                Asset.asset_id.in_(ids), Asset.live.is_(False), Asset.purged_at.is_(None)
            )
        ):
            asset.purged_at, asset.analysis_partition, asset.pending_partition = stamp, None, None
            asset.index_dirty = False
            marked.append(asset.asset_id)
        Catalog.bump(s)
    return sorted(marked)


def purge_stale(catalog: Catalog, tables: TableStore, report: PurgeReport) -> None:
    """Rows a re-analysis left in the partition that held the old analysis."""
    with catalog.reading() as s:
        stale = [(r.asset_id, r.partition) for r in s.scalars(select(StaleRows))]
    if purges_held(catalog):
        return
    analysis_tables = [t for t in TABLES if t != "assets"]
    for asset_id, partition in stale:
        with catalog.partition_lock(partition):
            for table in analysis_tables:
                n = tables.drop_assets(table, partition, [asset_id])
                report.add_rows(table, n)
                report.stale_rows_removed += n
        with catalog.session() as s:
            s.execute(
                delete(StaleRows).where(
                    StaleRows.asset_id == asset_id, StaleRows.partition == partition
                )
            )
