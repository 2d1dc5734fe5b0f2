"""What the sensors tell the catalog: the versions it already knows (so a tick proposes
only new ones), paths gone from a source (their content leaves search at once), and the
file versions a new batch takes."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from dataflux_pipeline.catalog.models import Asset, SourcePath, now
from dataflux_pipeline.catalog.store import Catalog, Change
from dataflux_pipeline.intake.batches import Batch, Observed

LISTED_STATES = ("pending", "present", "failed", "sidecar")


def known_versions(catalog: Catalog, source: str) -> dict[str, Observed]:
    """The version of every path the catalog holds for `source` (removed ones excluded,
    so a file put back is taken again)."""
    with catalog.reading() as s:
        rows = s.execute(
            select(SourcePath.path, SourcePath.size, SourcePath.mtime_ns).where(
                SourcePath.source_id == source, SourcePath.state.in_(LISTED_STATES)
            )
        )
        return {path: Observed(size, mtime) for path, size, mtime in rows}


def mark_removed(catalog: Catalog, source: str, listed: Iterable[str]) -> Change:
    """Paths the catalog holds that the source no longer lists are removed; their content
    stops being live (and searchable) in this same transaction unless another path
    holds it. A removed sidecar asks for its primary's re-analysis."""
    listed = set(listed)
    change = Change()
    with catalog.session() as s:
        rows = s.scalars(
            select(SourcePath).where(
                SourcePath.source_id == source, SourcePath.state.in_(LISTED_STATES)
            )
        )
        stamp = now()
        for sp in rows:
            if sp.path in listed:
                continue
            was = sp.state
            sp.state, sp.removed_at = "removed", stamp
            if sp.asset_id is None:
                continue
            if was == "sidecar":
                asset = s.get(Asset, sp.asset_id)
                if asset is not None and asset.live:
                    asset.reanalyze = True
                change.count("sidecars_removed")
            else:
                change.count("removed")
            change.touched.add(sp.asset_id)
            Catalog.event(s, "removed", sp.asset_id, source_id=source, path=sp.path)
        change.claimed = sorted(Catalog.refresh(s, change.touched))
    return change


def register_batch(catalog: Catalog, batch: Batch) -> None:
    """The file versions a batch takes, as pending paths (a re-registration is a no-op)."""
    with catalog.session() as s:
        stamp = now()
        for f in batch.files:
            versions = {f.path: (f.size, f.mtime_ns), **f.sidecar_versions}
            for path, (size, mtime) in versions.items():
                sp = s.get(SourcePath, (f.source, path))
                if sp is None:
                    sp = SourcePath(source_id=f.source, path=path, first_seen=stamp)
                    s.add(sp)
                elif (sp.size, sp.mtime_ns) == (size, mtime) and sp.state != "removed":
                    continue
                if sp.state in (None, "removed"):
                    sp.first_seen, sp.asset_id = stamp, None  # may hold other bytes now
                sp.size, sp.mtime_ns, sp.batch, sp.last_seen = size, mtime, batch.partition, stamp
                sp.state = "pending" if path == f.path else "sidecar"
                sp.removed_at = None
