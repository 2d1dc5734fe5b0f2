"""The search index as a projection of the live catalog: for any set of contents, make
the index hold exactly the rows of their current analysis if they are live, and none if
they are not. Every writer of the index goes through here, so an old partition re-run,
a removal, a rename or a delete all end in the same, checkable state."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import polars as pl
from sqlalchemy import select, update

from dataflux_pipeline.catalog.access import labels_of
from dataflux_pipeline.catalog.models import Asset
from dataflux_pipeline.catalog.store import Catalog
from dataflux_pipeline.intake.identity import name_text
from dataflux_pipeline.storage.index import NAMES_SPACE, IndexWriter, quote
from dataflux_pipeline.storage.tables import TableStore

SEGMENT_COLUMNS = ["segment_id", "kind", "start_s", "end_s", "page", "text", "thumbnail"]
VECTOR_TABLES = ("embeddings", "descriptors")
CHUNK = 500  # contents per merge-insert: keeps the delete predicate and memory bounded


@dataclass(frozen=True)
class Target:
    """Where a content's index rows come from (None: it has none) and what they show."""

    partition: str | None
    file_name: str | None
    media_type: str | None
    updated_at: datetime
    readers: tuple[str, ...] = ("public",)
    path: str | None = None


def targets(catalog: Catalog, asset_ids: Iterable[str]) -> dict[str, Target]:
    ids = sorted(set(asset_ids))
    out: dict[str, Target] = {a: Target(None, None, None, datetime.min) for a in ids}
    with catalog.reading() as s:
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            labels = labels_of(s, chunk)
            for a in s.scalars(select(Asset).where(Asset.asset_id.in_(chunk))):
                searchable = a.live and a.deleted_at is None and a.purged_at is None
                out[a.asset_id] = Target(
                    a.analysis_partition if searchable else None,
                    a.file_name,
                    a.media_type,
                    a.updated_at,
                    tuple(labels[a.asset_id]),
                    a.path,
                )
    return out


def _name_rows(plan: dict[str, Target]) -> pl.DataFrame:
    """One row per searchable content in the `names` space, so its folder and file names
    are found by full-text search; renames change only these rows."""
    rows = [
        {
            "segment_id": f"{a}:name:0",
            "asset_id": a,
            "space": NAMES_SPACE,
            "model": "file-name",
            "model_version": "1",
            "vector": [0.0],
            "kind": "name",
            "text": name_text(t.path),
        }
        for a, t in plan.items()
        if t.partition and name_text(t.path)
    ]
    return pl.DataFrame(rows) if rows else pl.DataFrame()


def expected_rows(tables: TableStore, plan: dict[str, Target]) -> pl.DataFrame:
    """Index rows (with `space`) for every content that has a partition in `plan`."""
    by_partition: dict[str, list[str]] = {}
    for asset_id, t in plan.items():
        if t.partition:
            by_partition.setdefault(t.partition, []).append(asset_id)
    frames = []
    for partition, ids in sorted(by_partition.items()):
        vectors = [tables.read_assets(t, partition, ids) for t in VECTOR_TABLES]
        vectors = pl.concat([v for v in vectors if v.height], how="vertical_relaxed")
        if not vectors.height:
            continue
        segments = tables.read_assets("segments", partition, ids).select(SEGMENT_COLUMNS)
        frames.append(vectors.join(segments, on="segment_id", how="inner"))
    names = _name_rows(plan)
    if names.height:
        frames.append(names)
    if not frames:
        return pl.DataFrame()
    rows = pl.concat(frames, how="diagonal_relaxed")
    shown = pl.DataFrame(
        {
            "asset_id": list(plan),
            "file_name": [t.file_name for t in plan.values()],
            "media_type": [t.media_type for t in plan.values()],
            "readers": [list(t.readers) for t in plan.values()],
        },
        schema={
            "asset_id": pl.String,
            "file_name": pl.String,
            "media_type": pl.String,
            "readers": pl.List(pl.String),
        },
    )
    return rows.join(shown, on="asset_id", how="left").drop("dim", "partition", strict=False)


def sync_index(
    catalog: Catalog, tables: TableStore, index: IndexWriter, asset_ids: Iterable[str]
) -> dict[str, int]:
    """Bring the index in line with the catalog for these contents; rows per space."""
    ids = sorted(set(asset_ids))
    counts: dict[str, int] = {}
    for start in range(0, len(ids), CHUNK):
        plan = targets(catalog, ids[start : start + CHUNK])
        rows = expected_rows(tables, plan)
        spaces = set(rows["space"].unique().to_list()) if rows.height else set()
        for space in sorted(spaces | set(index.spaces())):
            mine = rows.filter(pl.col("space") == space).drop("space") if rows.height else rows
            counts[space] = counts.get(space, 0) + index.upsert(
                space, mine.to_dicts() if mine.height else [], list(plan)
            )
        mark_indexed(catalog, plan)
    return counts


def mark_indexed(catalog: Catalog, plan: dict[str, Target]) -> None:
    """Clean, unless the content changed again while its rows were being written."""
    with catalog.session() as s:
        for asset_id, t in plan.items():
            values = {"index_dirty": False}
            stmt = update(Asset).where(Asset.asset_id == asset_id, Asset.updated_at == t.updated_at)
            s.execute(stmt.values(**values))
            if t.partition:
                s.execute(
                    update(Asset)
                    .where(Asset.asset_id == asset_id, Asset.status == "analyzed")
                    .values(status="indexed")
                )
        Catalog.bump(s)


def disagreements(
    catalog: Catalog, tables: TableStore, index: IndexWriter, asset_ids: Iterable[str]
) -> list[str]:
    """Where the index differs from the projection for these contents (empty: agrees)."""
    ids = sorted(set(asset_ids))
    problems = []
    for start in range(0, len(ids), CHUNK):
        plan = targets(catalog, ids[start : start + CHUNK])
        rows = expected_rows(tables, plan)
        where = f"asset_id IN ({quote(list(plan))})"
        for space in index.spaces():
            want = (
                set(rows.filter(pl.col("space") == space)["segment_id"]) if rows.height else set()
            )
            have = index.segment_ids(space, where)
            if len(have) != len(set(have)):
                problems.append(f"{space}: a segment id appears twice")
            if set(have) != want:
                missing, extra = len(want - set(have)), len(set(have) - want)
                problems.append(f"{space}: {missing} row(s) missing, {extra} not live or stale")
    return problems
