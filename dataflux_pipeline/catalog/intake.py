"""What a batch's intake step tells the catalog: the content each path holds now.

One transaction per batch. New content is claimed for analysis by this partition; content
the catalog already has (a copy under a new name, a move, a file put back) only gains a
path; a path that now holds other bytes supersedes its old content; deleted content stays
out. A record of an older version than the catalog's (an old partition re-run after the
file changed) changes nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select

from dataflux_pipeline.catalog.access import apply_intents
from dataflux_pipeline.catalog.models import Asset, AssetAccess, Exclusion, SourcePath, now
from dataflux_pipeline.catalog.store import Catalog, Change
from dataflux_pipeline.intake.records import IntakeRecord

STATUS_OF = {"ok": "cataloged", "failed": "failed", "skipped": "skipped"}


def _digests(sidecars: dict) -> dict[str, str]:
    return {role: side.get("sha256", "") for role, side in sidecars.items()}


def _new_asset(rec: IntakeRecord, partition: str) -> Asset:
    status = STATUS_OF[rec.outcome]
    return Asset(
        asset_id=rec.asset_id,
        media_type=rec.media_type,
        mime_type=rec.mime_type,
        size_bytes=rec.size_bytes,
        xxh128=rec.xxh128,
        store_path=rec.store_path,
        source_id=rec.source,
        path=rec.path,
        file_name=rec.file_name,
        status=status,
        error=rec.error,
        duration_s=rec.duration_s,
        details={"sidecars": {k: v.model_dump() for k, v in rec.sidecars.items()}},
        analyzers={},
        pending_partition=partition if status == "cataloged" else None,
        live=False,
        index_dirty=True,
        reanalyze=False,
    )


def _claim(asset: Asset, rec: IntakeRecord, partition: str, excluded: bool) -> str:
    """Whether this partition analyzes `asset`, and what the record meant."""
    if excluded:
        return "excluded"
    if asset.purged_at is not None or (
        asset.analysis_partition is None and asset.pending_partition is None
    ):
        if asset.status == "skipped" or rec.outcome != "ok":
            return "known"
        retry = asset.status != "failed" or asset.details.get("failed_in") == partition
        if asset.purged_at is not None or retry:
            asset.purged_at = None
            asset.status, asset.error = "cataloged", None
            asset.pending_partition = partition
            return "claimed"
        return "known"
    if partition in (asset.pending_partition, asset.analysis_partition):
        if asset.pending_partition is None:
            asset.pending_partition = partition
        return "claimed"
    # A content's sidecars are those of every path that holds it: a copy without its
    # caption adds none and takes none away (a removed caption leaves in catalog.observe)
    held = asset.details.get("sidecars") or {}
    sidecars = held | {role: side.model_dump() for role, side in rec.sidecars.items()}
    if rec.outcome == "ok" and _digests(sidecars) != _digests(held):
        asset.details = asset.details | {"sidecars": sidecars}
        if asset.pending_partition is None:
            asset.pending_partition = partition
            return "claimed"
    return "known"


def apply_intake(
    catalog: Catalog,
    partition: str,
    records: Sequence[IntakeRecord],
    run_id: str | None = None,
    owners: Mapping[str, tuple[list[str], str]] | None = None,
) -> Change:
    """`owners`: per source, the reader labels that own what lands there and the
    visibility it gets (default: no owner, public)."""
    owners = owners or {}
    change = Change()
    with catalog.session() as s:
        stamp = now()
        ids = {r.asset_id for r in records}
        excluded = set(s.scalars(select(Exclusion.asset_id).where(Exclusion.asset_id.in_(ids))))
        for rec in records:
            if rec.outcome == "missing":
                change.count("missing")
                continue
            sp = s.get(SourcePath, (rec.source, rec.path))
            if sp is not None and (sp.size, sp.mtime_ns) != (rec.size_bytes, rec.mtime_ns):
                change.count("stale")  # the catalog already knows a newer version
                continue
            if sp is None:
                sp = SourcePath(
                    source_id=rec.source,
                    path=rec.path,
                    size=rec.size_bytes,
                    mtime_ns=rec.mtime_ns,
                    first_seen=stamp,
                )
                s.add(sp)
            previous = sp.asset_id
            sp.asset_id, sp.batch, sp.last_seen = rec.asset_id, partition, stamp
            sp.state = "failed" if rec.outcome == "failed" else "present"
            sp.error, sp.removed_at = rec.error, None
            for side in rec.sidecars.values():
                side_path = s.get(SourcePath, (rec.source, side.path))
                if side_path is None:
                    continue
                held = side_path.asset_id
                if held and held != rec.asset_id and side_path.state != "sidecar":
                    # a note that became a photo's caption: it is no longer a document
                    change.touched.add(held)
                    Catalog.event(s, "became_sidecar", held, source_id=rec.source, path=side.path)
                side_path.asset_id, side_path.state = rec.asset_id, "sidecar"
            asset = s.get(Asset, rec.asset_id)
            source_owners, visibility = owners.get(rec.source, ([], "public"))
            if asset is None:
                asset = _new_asset(rec, partition)
                s.add(asset)
                s.flush()
                apply_intents(s, asset, source_owners, visibility)
                what = "claimed" if asset.pending_partition == partition else rec.outcome
                Catalog.event(s, "added", rec.asset_id, source_id=rec.source, path=rec.path)
            else:
                for principal in source_owners:  # a second source's owners may read it too
                    if s.get(AssetAccess, (rec.asset_id, principal)) is None:
                        s.add(
                            AssetAccess(
                                asset_id=rec.asset_id, principal=principal, relation="owner"
                            )
                        )
                        asset.index_dirty = True
                what = _claim(asset, rec, partition, rec.asset_id in excluded)
                Catalog.event(s, f"seen_{what}", rec.asset_id, source_id=rec.source, path=rec.path)
            if what == "claimed":
                change.claimed.append(rec.asset_id)
                asset.updated_at = stamp
            change.count("new" if what == "claimed" else what)
            change.touched.add(rec.asset_id)
            if previous and previous != rec.asset_id:
                change.touched.add(previous)
                change.count("replaced")
                Catalog.event(
                    s, "replaced", previous, source_id=rec.source, path=rec.path, by=rec.asset_id
                )
        Catalog.refresh(s, change.touched)
        Catalog.bump(s)
    change.claimed = sorted(set(change.claimed))
    return change
