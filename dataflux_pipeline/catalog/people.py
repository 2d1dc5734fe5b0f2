"""People in the catalog: faces of live contents assigned to people incrementally as
batches arrive (analyzers.vision.people does the arithmetic), named and merged by hand.
A face leaving the catalog (its content purged or re-analyzed) leaves its person too."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
from sqlalchemy import delete, func, select

from dataflux_pipeline.analyzers.vision.people import People, Person
from dataflux_pipeline.catalog.models import PersonFace, PersonRecord, now
from dataflux_pipeline.catalog.store import Catalog


def _people(s) -> list[Person]:
    rows = s.scalars(select(PersonRecord).where(PersonRecord.merged_into.is_(None)))
    return [Person(r.id, np.asarray(r.total, np.float64), r.count) for r in rows]


def assign(
    catalog: Catalog, faces: Mapping[str, tuple[str, np.ndarray]], threshold: float
) -> dict[str, int]:
    """Faces (segment id -> (asset id, embedding)) not assigned yet join a person, in
    one transaction; returns segment id -> person id for those."""
    with catalog.session() as s:
        known = set(
            s.scalars(select(PersonFace.segment_id).where(PersonFace.segment_id.in_(list(faces))))
        )
        new = {k: v for k, v in faces.items() if k not in known}
        if not new:
            return {}
        ids = sorted(new)
        clusters = People(_people(s), threshold)
        found = clusters.assign(ids, np.stack([new[i][1] for i in ids]))
        for person in clusters.people.values():
            row = s.get(PersonRecord, person.id)
            if row is None:
                row = PersonRecord(id=person.id, total=[], count=0)
                s.add(row)
            row.total, row.count, row.updated_at = person.total.tolist(), person.count, now()
        for face_id, person_id in found.items():
            vector = np.asarray(new[face_id][1], np.float64)
            vector = vector / max(float(np.linalg.norm(vector)), 1e-9)
            s.add(
                PersonFace(
                    segment_id=face_id,
                    asset_id=new[face_id][0],
                    person_id=person_id,
                    embedding=vector.tolist(),
                )
            )
        Catalog.bump(s)
        return found


def forget_assets(catalog: Catalog, asset_ids: Iterable[str]) -> int:
    """Faces of these contents leave their people (a purge, or a re-analysis that will
    assign them again)."""
    ids = list(asset_ids)
    with catalog.session() as s:
        faces = list(s.scalars(select(PersonFace).where(PersonFace.asset_id.in_(ids))))
        for face in faces:
            person = s.get(PersonRecord, face.person_id)
            if person is not None:
                person.total = (np.asarray(person.total) - np.asarray(face.embedding)).tolist()
                person.count = max(0, person.count - 1)
        s.execute(delete(PersonFace).where(PersonFace.asset_id.in_(ids)))
        return len(faces)


def canonical(s, person_id: int) -> int:
    """The person a merged one was folded into (followed to the end)."""
    seen = set()
    while person_id not in seen:
        seen.add(person_id)
        row = s.get(PersonRecord, person_id)
        if row is None or row.merged_into is None:
            return person_id
        person_id = row.merged_into
    return person_id


def merge(catalog: Catalog, keep: int, drop: int) -> None:
    with catalog.session() as s:
        keep, drop = canonical(s, keep), canonical(s, drop)
        if keep == drop:
            return
        kept, dropped = s.get(PersonRecord, keep), s.get(PersonRecord, drop)
        clusters = People(
            [
                Person(keep, np.asarray(kept.total), kept.count),
                Person(drop, np.asarray(dropped.total), dropped.count),
            ]
        )
        merged = clusters.merge(keep, drop)
        kept.total, kept.count = merged.total.tolist(), merged.count
        dropped.merged_into, dropped.count = keep, 0
        s.execute(
            PersonFace.__table__.update().where(PersonFace.person_id == drop).values(person_id=keep)
        )
        Catalog.bump(s)


def rename(catalog: Catalog, person_id: int, name: str | None) -> None:
    with catalog.session() as s:
        row = s.get(PersonRecord, canonical(s, person_id))
        row.name = (name or "").strip()[:200] or None


def faces_by_person(
    catalog: Catalog, visible: set[str] | frozenset[str]
) -> dict[int, list[PersonFace]]:
    """person id -> its faces in contents the caller may see."""
    with catalog.reading() as s:
        out: dict[int, list[PersonFace]] = {}
        for face in s.scalars(select(PersonFace).order_by(PersonFace.segment_id)):
            if face.asset_id in visible:
                out.setdefault(face.person_id, []).append(face)
        return out


def names(catalog: Catalog) -> dict[int, str | None]:
    with catalog.reading() as s:
        return dict(s.execute(select(PersonRecord.id, PersonRecord.name)).all())


def assets_of(catalog: Catalog, person_id: int) -> set[str]:
    with catalog.reading() as s:
        pid = canonical(s, person_id)
        return set(s.scalars(select(PersonFace.asset_id).where(PersonFace.person_id == pid)))


def exists(catalog: Catalog, person_id: int) -> bool:
    with catalog.reading() as s:
        return bool(s.scalar(select(func.count()).where(PersonRecord.id == person_id)))
