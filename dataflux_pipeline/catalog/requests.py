"""What people ask of the catalog through the service or the CLI: delete a content, or
analyze it again. The catalog records the request at once (a deleted content leaves
search and answers 404 from that moment); the catalog sync job does the heavy part."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from dataflux_pipeline.catalog.models import Asset, Exclusion, SourcePath, now
from dataflux_pipeline.catalog.store import Catalog


def delete(catalog: Catalog, asset_id: str, actor: str | None) -> list[tuple[str, str]] | None:
    """Mark a content deleted and excluded; returns its (source, path) pairs in the
    uploads area (the caller removes those files), or None if there is no such content."""
    with catalog.session() as s:
        asset = s.get(Asset, asset_id)
        if asset is None or asset.deleted_at is not None or asset.purged_at is not None:
            return None
        stamp = now()
        asset.deleted_at, asset.deleted_by = stamp, actor
        asset.index_dirty, asset.reanalyze, asset.updated_at = True, False, stamp
        s.merge(Exclusion(asset_id=asset_id, reason="deleted", actor=actor, at=stamp))
        uploads = [
            (sp.source_id, sp.path)
            for sp in s.scalars(
                select(SourcePath).where(
                    SourcePath.asset_id == asset_id, SourcePath.source_id == "uploads"
                )
            )
        ]
        Catalog.event(s, "deleted", asset_id, actor=actor, file_name=asset.file_name)
        Catalog.refresh(s, [asset_id])
        Catalog.bump(s)
    return uploads


def request_reanalysis(catalog: Catalog, asset_ids: Iterable[str], actor: str | None) -> list[str]:
    """Flag live contents for re-analysis with the current analyzers; the catalog sensor
    turns the flags into a partition run. Returns the ids flagged."""
    flagged = []
    with catalog.session() as s:
        for asset in s.scalars(select(Asset).where(Asset.asset_id.in_(list(asset_ids)))):
            if not asset.live or asset.status == "skipped":
                continue
            asset.reanalyze, asset.updated_at = True, now()
            flagged.append(asset.asset_id)
            Catalog.event(s, "reanalysis_requested", asset.asset_id, actor=actor)
        Catalog.bump(s)
    return sorted(flagged)


def older_than(catalog: Catalog, analyzer: str, version: str) -> list[str]:
    """Live contents whose current analysis used `analyzer` below `version`."""
    from packaging.version import InvalidVersion, Version

    try:
        wanted = Version(version)
    except InvalidVersion as exc:
        raise ValueError(f"{version!r} is not a version") from exc
    out = []
    with catalog.reading() as s:
        for asset in s.scalars(
            select(Asset).where(Asset.live, Asset.analysis_partition.isnot(None))
        ):
            used = asset.analyzers.get(analyzer)
            try:
                if used is None or Version(used) < wanted:
                    out.append(asset.asset_id)
            except InvalidVersion:
                out.append(asset.asset_id)
    return sorted(out)


def pending_reanalysis(catalog: Catalog, limit: int) -> list[str]:
    """Flagged live contents with no analysis in flight, oldest request first."""
    with catalog.reading() as s:
        return list(
            s.scalars(
                select(Asset.asset_id)
                .where(Asset.reanalyze, Asset.live, Asset.pending_partition.is_(None))
                .order_by(Asset.updated_at, Asset.asset_id)
                .limit(limit)
            )
        )


def claim_reanalysis(catalog: Catalog, partition: str, asset_ids: Iterable[str]) -> list[str]:
    """Hand flagged contents to a re-analysis partition, in one transaction (a repeated
    tick claims nothing twice). Returns the ids claimed."""
    with catalog.session() as s:
        rows = list(
            s.scalars(
                select(Asset).where(
                    Asset.asset_id.in_(list(asset_ids)),
                    Asset.live,
                    (Asset.pending_partition.is_(None)) | (Asset.pending_partition == partition),
                )
            )
        )
        for asset in rows:
            asset.reanalyze, asset.pending_partition, asset.updated_at = False, partition, now()
        Catalog.bump(s)
    return sorted(a.asset_id for a in rows)
