"""What the sensors tell the catalog: the versions it already knows (so a tick proposes
only new ones), paths gone from a source (their content leaves search at once), and the
file versions a new batch takes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath

from sqlalchemy import select
from sqlalchemy.orm import Session

from dataflux_pipeline.catalog.models import Asset, SourcePath, now
from dataflux_pipeline.catalog.store import HOLDING, Catalog, Change
from dataflux_pipeline.intake.batches import Batch, Observed
from dataflux_pipeline.intake.sidecars import group_files, stem_key

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


def record_moves(catalog: Catalog, source: str, listing: Mapping[str, Observed]) -> Change:
    """Paths gone from a folder that reappear elsewhere in it with the same inode, size and
    mtime (a rename or a move): the new path holds the same content in this transaction,
    so nothing is hashed or analyzed again and the content never leaves search; the index
    follows the new name through catalog_sync. Whatever is less certain (S3, no inode, a
    changed mtime, sidecars on either side, two candidates) goes the ordinary way."""
    change = Change()
    with catalog.session() as s:
        held = {
            sp.path: sp
            for sp in s.scalars(
                select(SourcePath).where(
                    SourcePath.source_id == source, SourcePath.state.in_(LISTED_STATES)
                )
            )
        }
        gone: dict[tuple[int, int, int], list[SourcePath]] = {}
        for sp in held.values():
            if sp.path not in listing and sp.state == "present" and sp.inode and sp.asset_id:
                gone.setdefault((sp.inode, sp.size, sp.mtime_ns), []).append(sp)
        if not gone:
            return change
        paired = {sp.asset_id for sp in held.values() if sp.state == "sidecar"}
        root = PurePosixPath("/")
        alone = {
            group.paths[0].relative_to(root).as_posix()
            for group in group_files(root / rel for rel in listing)
            if len(group.paths) == 1
        }
        arrived: dict[tuple[int, int, int], list[str]] = {}
        for rel, obs in listing.items():
            if rel not in held and obs.inode:
                arrived.setdefault((obs.inode, obs.size, obs.mtime_ns), []).append(rel)
        stamp = now()
        for key, rels in arrived.items():
            olds = gone.get(key, [])
            if len(rels) != 1 or len(olds) != 1 or rels[0] not in alone:
                continue
            (rel,), (old,) = rels, olds
            if old.asset_id in paired:
                continue
            old.state, old.removed_at = "removed", stamp
            sp = s.get(SourcePath, (source, rel))
            if sp is None:
                sp = SourcePath(source_id=source, path=rel)
                s.add(sp)
            sp.size, sp.mtime_ns, sp.inode = old.size, old.mtime_ns, old.inode
            sp.state, sp.asset_id, sp.batch, sp.error = "present", old.asset_id, old.batch, None
            sp.first_seen = sp.last_seen = stamp
            sp.removed_at = None
            Catalog.event(s, "moved", old.asset_id, source_id=source, path=rel, moved_from=old.path)
            change.count("moved")
            change.touched.add(old.asset_id)
        Catalog.refresh(s, change.touched)
    return change


def _leave_content(s: Session, sp: SourcePath) -> None:
    """A sidecar no longer belongs to the content it described: its entry goes (so a
    re-analysis cannot read a stored copy of it) and a live content is analyzed again
    without it."""
    asset = s.get(Asset, sp.asset_id)
    if asset is None:
        return
    sidecars = asset.details.get("sidecars") or {}
    kept = {role: side for role, side in sidecars.items() if side.get("path") != sp.path}
    if kept != sidecars:
        asset.details = asset.details | {"sidecars": kept}
    if asset.live:
        asset.reanalyze = True


def mark_removed(catalog: Catalog, source: str, listed: Iterable[str]) -> Change:
    """Paths the catalog holds that the source no longer lists are removed; their content
    stops being live (and searchable) in this same transaction unless another path
    holds it. A removed sidecar leaves its content, which is analyzed again without it;
    a sidecar whose primary went is released, and the next tick takes it as a file of
    its own (a caption whose photo was removed is a note, and searchable)."""
    listed = set(listed)
    change = Change()
    with catalog.session() as s:
        rows = list(
            s.scalars(
                select(SourcePath).where(
                    SourcePath.source_id == source, SourcePath.state.in_(LISTED_STATES)
                )
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
                _leave_content(s, sp)
                change.count("sidecars_removed")
            else:
                change.count("removed")
            change.touched.add(sp.asset_id)
            Catalog.event(s, "removed", sp.asset_id, source_id=source, path=sp.path)
        primaries = {stem_key(PurePosixPath(sp.path)) for sp in rows if sp.state in HOLDING}
        for sp in rows:
            if sp.state != "sidecar" or stem_key(PurePosixPath(sp.path)) in primaries:
                continue
            sp.state, sp.removed_at = "removed", stamp  # not known any more: taken anew
            if sp.asset_id is not None:
                _leave_content(s, sp)
                change.touched.add(sp.asset_id)
                Catalog.event(s, "sidecar_released", sp.asset_id, source_id=source, path=sp.path)
            change.count("sidecars_released")
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
                sp.inode = (f.inode or None) if path == f.path else None
                sp.state = "pending" if path == f.path else "sidecar"
                sp.removed_at = None
