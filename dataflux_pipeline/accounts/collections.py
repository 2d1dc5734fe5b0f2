"""Collections: a named set of contents a user keeps, shares with users or groups, and
searches within. A collection never shows a content its reader may not see."""

from __future__ import annotations

from sqlalchemy import delete, or_, select

from dataflux_pipeline.accounts.models import Collection, CollectionItem, CollectionShare
from dataflux_pipeline.accounts.principals import Principal
from dataflux_pipeline.db import Database


class CollectionError(LookupError):
    pass


def visible(db: Database, who: Principal) -> list[Collection]:
    """Collections a principal owns or that are shared with them (all, for admins)."""
    with db.reading() as s:
        query = select(Collection).order_by(Collection.name, Collection.id)
        if not who.unrestricted:
            shared = select(CollectionShare.collection_id).where(
                CollectionShare.principal.in_(list(who.readers))
            )
            query = query.where(or_(Collection.owner_id == who.user_id, Collection.id.in_(shared)))
        return list(s.scalars(query))


def get(db: Database, who: Principal, collection_id: int, write: bool = False) -> Collection:
    """404 (CollectionError) for a collection the principal may not see; PermissionError
    for one they see but may not change (only its owner, or an admin, may)."""
    found = next((c for c in visible(db, who) if c.id == collection_id), None)
    if found is None:
        raise CollectionError(f"collection {collection_id} not found")
    if write and not (who.unrestricted or found.owner_id == who.user_id):
        raise PermissionError("only the collection's owner may change it")
    return found


def create(db: Database, who: Principal, name: str) -> Collection:
    if who.user_id is None:
        raise PermissionError("collections belong to a user; sign in")
    with db.session() as s:
        collection = Collection(name=name.strip()[:200], owner_id=who.user_id)
        s.add(collection)
        s.flush()
        return collection


def rename(db: Database, who: Principal, collection_id: int, name: str) -> Collection:
    get(db, who, collection_id, write=True)
    with db.session() as s:
        collection = s.get(Collection, collection_id)
        collection.name = name.strip()[:200]
        return collection


def remove(db: Database, who: Principal, collection_id: int) -> None:
    get(db, who, collection_id, write=True)
    with db.session() as s:
        s.execute(delete(CollectionItem).where(CollectionItem.collection_id == collection_id))
        s.execute(delete(CollectionShare).where(CollectionShare.collection_id == collection_id))
        s.delete(s.get(Collection, collection_id))


def items(db: Database, collection_id: int) -> list[str]:
    with db.reading() as s:
        rows = s.scalars(
            select(CollectionItem.asset_id)
            .where(CollectionItem.collection_id == collection_id)
            .order_by(CollectionItem.at, CollectionItem.asset_id)
        )
        return list(rows)


def add_items(db: Database, who: Principal, collection_id: int, asset_ids: list[str]) -> int:
    get(db, who, collection_id, write=True)
    added = 0
    with db.session() as s:
        for asset_id in asset_ids:
            if s.get(CollectionItem, (collection_id, asset_id)) is None:
                s.add(
                    CollectionItem(
                        collection_id=collection_id, asset_id=asset_id, added_by=who.user_id
                    )
                )
                added += 1
    return added


def remove_items(db: Database, who: Principal, collection_id: int, asset_ids: list[str]) -> int:
    get(db, who, collection_id, write=True)
    with db.session() as s:
        result = s.execute(
            delete(CollectionItem).where(
                CollectionItem.collection_id == collection_id,
                CollectionItem.asset_id.in_(asset_ids),
            )
        )
        return result.rowcount or 0


def share(db: Database, who: Principal, collection_id: int, principal: str) -> None:
    get(db, who, collection_id, write=True)
    with db.session() as s:
        s.merge(CollectionShare(collection_id=collection_id, principal=principal))


def shares(db: Database, collection_id: int) -> list[str]:
    with db.reading() as s:
        rows = s.scalars(
            select(CollectionShare.principal).where(CollectionShare.collection_id == collection_id)
        )
        return sorted(rows)


def containing(db: Database, who: Principal, asset_id: str) -> list[Collection]:
    """The collections a principal can see that hold this content."""
    mine = {c.id: c for c in visible(db, who)}
    with db.reading() as s:
        ids = s.scalars(
            select(CollectionItem.collection_id).where(CollectionItem.asset_id == asset_id)
        )
        return [mine[i] for i in ids if i in mine]
