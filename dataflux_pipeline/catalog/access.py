"""Who may read a content: its owners (an uploader, or the owner or group configured for
a watched source), its holders (who uploaded the same bytes later), those it is shared
with, and everyone when it is public. The index carries the result as reader labels, so
search filters before it ranks. Only owners change a content: delete, share, publish,
re-analyze."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dataflux_pipeline.catalog.models import Asset, AssetAccess, UploadIntent, now
from dataflux_pipeline.catalog.store import Catalog

VISIBILITIES = ("private", "shared", "public")
READ_ALWAYS = ("owner", "holder")  # relations that read a content whatever its visibility


def labels_of(s: Session, asset_ids: Iterable[str]) -> dict[str, list[str]]:
    """The reader labels of each content: `public`, or its owners' and sharees'."""
    ids = list(set(asset_ids))
    visibility = dict(
        s.execute(select(Asset.asset_id, Asset.visibility).where(Asset.asset_id.in_(ids))).all()
    )
    out: dict[str, set[str]] = {a: set() for a in ids}
    for row in s.scalars(select(AssetAccess).where(AssetAccess.asset_id.in_(ids))):
        if row.relation in READ_ALWAYS or visibility.get(row.asset_id) == "shared":
            out[row.asset_id].add(row.principal)
    return {
        a: ["public"] if visibility.get(a, "public") == "public" else sorted(labels)
        for a, labels in out.items()
    }


def readers(catalog: Catalog, asset_ids: Iterable[str]) -> dict[str, list[str]]:
    with catalog.reading() as s:
        return labels_of(s, asset_ids)


def _touch(s: Session, asset_id: str) -> None:
    asset = s.get(Asset, asset_id)
    if asset is not None:
        asset.index_dirty, asset.updated_at = True, now()
    Catalog.bump(s)


def record_upload(catalog: Catalog, asset_id: str, principal: str, visibility: str) -> None:
    """The uploader owns what they upload, once the intake creates it. Bytes the catalog
    has already make the uploader a holder: they read the content (they have it), but
    whoever owns it keeps it, its visibility and its shares (an owner would have been able
    to publish or delete someone else's private file)."""
    with catalog.session() as s:
        if s.get(Asset, asset_id) is None:
            s.merge(UploadIntent(asset_id=asset_id, principal=principal, visibility=visibility))
            return
        current = s.get(AssetAccess, (asset_id, principal))
        if current is None or current.relation not in READ_ALWAYS:
            s.merge(AssetAccess(asset_id=asset_id, principal=principal, relation="holder"))
            Catalog.event(s, "uploaded_again", asset_id, actor=principal)
            _touch(s, asset_id)


def apply_intents(s: Session, asset: Asset, source_owners: list[str], source_visibility: str):
    """Ownership of a content the intake just created: the source's, and its first
    uploader's; who uploaded the same bytes before the intake got to them holds it."""
    intents = list(
        s.scalars(
            select(UploadIntent)
            .where(UploadIntent.asset_id == asset.asset_id)
            .order_by(UploadIntent.at, UploadIntent.principal)
        )
    )
    owners = set(source_owners) | {i.principal for i in intents[:1]}
    for principal in owners:
        s.merge(AssetAccess(asset_id=asset.asset_id, principal=principal, relation="owner"))
    for principal in {i.principal for i in intents[1:]} - owners:
        s.merge(AssetAccess(asset_id=asset.asset_id, principal=principal, relation="holder"))
    asset.visibility = intents[0].visibility if intents else source_visibility
    s.execute(delete(UploadIntent).where(UploadIntent.asset_id == asset.asset_id))


def set_visibility(catalog: Catalog, asset_id: str, visibility: str, actor: str) -> None:
    if visibility not in VISIBILITIES:
        raise ValueError(f"visibility must be one of {', '.join(VISIBILITIES)}")
    with catalog.session() as s:
        s.get(Asset, asset_id).visibility = visibility
        Catalog.event(s, "visibility", asset_id, actor=actor, visibility=visibility)
        _touch(s, asset_id)


def share(catalog: Catalog, asset_id: str, principal: str, actor: str) -> None:
    """Share with a user or group; a private content becomes shared."""
    with catalog.session() as s:
        asset = s.get(Asset, asset_id)
        current = s.get(AssetAccess, (asset_id, principal))
        if current is None:
            s.add(AssetAccess(asset_id=asset_id, principal=principal, relation="reader"))
        if asset.visibility == "private":
            asset.visibility = "shared"
        Catalog.event(s, "shared", asset_id, actor=actor, principal=principal)
        _touch(s, asset_id)


def unshare(catalog: Catalog, asset_id: str, principal: str, actor: str) -> bool:
    with catalog.session() as s:
        row = s.get(AssetAccess, (asset_id, principal))
        if row is None or row.relation != "reader":
            return False
        s.delete(row)
        Catalog.event(s, "unshared", asset_id, actor=actor, principal=principal)
        _touch(s, asset_id)
        return True


def access_of(catalog: Catalog, asset_id: str) -> dict:
    with catalog.reading() as s:
        asset = s.get(Asset, asset_id)
        rows = list(s.scalars(select(AssetAccess).where(AssetAccess.asset_id == asset_id)))
    return {
        "visibility": asset.visibility if asset else None,
        "owners": sorted(r.principal for r in rows if r.relation == "owner"),
        "shared_with": sorted(r.principal for r in rows if r.relation == "reader"),
        "held_by": sorted(r.principal for r in rows if r.relation == "holder"),
    }


def owns(catalog: Catalog, asset_id: str, labels: Iterable[str]) -> bool:
    with catalog.reading() as s:
        rows = s.scalars(
            select(AssetAccess.principal).where(
                AssetAccess.asset_id == asset_id,
                AssetAccess.relation == "owner",
                AssetAccess.principal.in_(list(labels)),
            )
        )
        return bool(list(rows))


def pending_uploads(catalog: Catalog, labels: Iterable[str]) -> set[str]:
    """Contents these principals uploaded that the intake has not created yet."""
    with catalog.reading() as s:
        rows = s.scalars(
            select(UploadIntent.asset_id).where(UploadIntent.principal.in_(list(labels)))
        )
        return set(rows)
