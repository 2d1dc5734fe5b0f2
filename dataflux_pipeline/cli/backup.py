"""`dataflux backup DEST` and `dataflux restore SRC` (a folder or s3://prefix).

A backup is one consistent snapshot taken while ingestion runs: purges are held for its
duration (the partition lock `__backup__`), the app database is read in one transaction,
each index space is pinned at the version current when the backup starts, and the Parquet
files, store and manifests are copied after that (later runs only add files the snapshot
does not refer to; readers pick rows by the catalog's partitions). Restore copies it all
into an empty home and then brings the index in line with the restored catalog, so
search answers what the catalog says even for a batch that was mid-run."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import DateTime, delete, insert, select

from dataflux_pipeline.catalog import Catalog
from dataflux_pipeline.catalog.models import Asset, PartitionLock
from dataflux_pipeline.catalog.store import BACKUP_HOLD
from dataflux_pipeline.db import Base
from dataflux_pipeline.settings import Settings
from dataflux_pipeline.storage.objects import Storage

FORMAT = 1
SKIP_TABLES = {"partition_locks"}
FOLDERS = ("tables", "store", "batches")


def _tables():
    import dataflux_pipeline.catalog.models  # noqa: F401  (every table registered)

    return [t for t in Base.metadata.sorted_tables if t.name not in SKIP_TABLES]


def _json(value):
    return value.isoformat() if isinstance(value, datetime) else value


def dump_database(live: Catalog) -> dict[str, list[dict]]:
    """Every app table, read in one transaction."""
    with live.reading() as s:
        return {
            t.name: [{k: _json(v) for k, v in row._mapping.items()} for row in s.execute(select(t))]
            for t in _tables()
        }


def load_database(live: Catalog, dump: dict[str, list[dict]]) -> int:
    rows = 0
    with live.session() as s:
        for table in _tables():
            s.execute(delete(table))
        for table in _tables():
            data = dump.get(table.name, [])
            dates = [c.name for c in table.columns if isinstance(c.type, DateTime)]
            for row in data:
                for name in dates:
                    if row.get(name):
                        row[name] = datetime.fromisoformat(row[name])
            if data:
                s.execute(insert(table), data)
                rows += len(data)
    return rows


def _copy_tree(local: Path, dest: Storage, rel: str) -> int:
    files = [p for p in local.rglob("*") if p.is_file() and not p.name.endswith(".tmp")]
    for path in files:
        dest.put_file(path, f"{rel}/{path.relative_to(local).as_posix()}")
    return len(files)


def _sqlite_copy(src: Path, target: Path) -> None:
    """SQLite's online backup: a consistent copy while other processes write."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(src) as a, sqlite3.connect(target) as b:
        a.backup(b)


def _pin_index(settings: Settings) -> dict[str, int]:
    from dataflux_pipeline.storage.index import IndexReader

    index = IndexReader(settings.lancedb)
    return {space: index.table(space).version for space in index.spaces()}


def _dagster_files(home: Path) -> list[Path]:
    return sorted(home.rglob("*.db")) if home.is_dir() else []


def backup(settings: Settings, dest_uri: str) -> int:
    live = Catalog.open(settings.database)
    dest = Storage(dest_uri)
    with live.session() as s:  # hold purges for the copy (expires if this dies)
        s.merge(
            PartitionLock(
                partition=BACKUP_HOLD,
                holder=f"backup:{os.getpid()}",
                expires_at=datetime.now(UTC) + timedelta(hours=6),
            )
        )
    try:
        pins = _pin_index(settings)
        dump = dump_database(live)
        counts = {"database_rows": sum(len(v) for v in dump.values())}
        with tempfile.TemporaryDirectory(prefix="dataflux-backup-") as tmp:
            db_file = Path(tmp) / "catalog.json"
            db_file.write_text(json.dumps(dump))
            dest.put_file(db_file, "catalog.json")
            for folder in FOLDERS:
                local = settings.home / folder
                counts[folder] = _copy_tree(local, dest, folder) if local.is_dir() else 0
            counts["lancedb"] = _copy_tree(Path(settings.lancedb), dest, "lancedb")
            dagster_home = Path(os.environ.get("DAGSTER_HOME") or settings.dagster_home)
            copied = 0
            for db in _dagster_files(dagster_home):
                target = Path(tmp) / "dagster" / db.relative_to(dagster_home)
                _sqlite_copy(db, target)
                dest.put_file(target, f"dagster/{db.relative_to(dagster_home).as_posix()}")
                copied += 1
            counts["dagster_databases"] = copied
            manifest = Path(tmp) / "backup.json"
            manifest.write_text(
                json.dumps(
                    {
                        "format": FORMAT,
                        "taken_at": datetime.now(UTC).isoformat(),
                        "index_versions": pins,
                        "live_assets": sum(1 for a in dump["assets"] if a["live"]),
                        "counts": counts,
                    },
                    indent=1,
                )
            )
            dest.put_file(manifest, "backup.json")
    finally:
        with live.session() as s:
            s.execute(delete(PartitionLock).where(PartitionLock.partition == BACKUP_HOLD))
    print(f"backup at {dest_uri}: {counts}")
    return 0


def restore(settings: Settings, src_uri: str) -> int:
    """Into an empty DATAFLUX_HOME: files first, then the database, then the index is
    made to agree with the restored catalog."""
    from dataflux_pipeline.catalog.projection import sync_index
    from dataflux_pipeline.storage.index import IndexWriter
    from dataflux_pipeline.storage.tables import TableStore

    src = Storage(src_uri)
    if not src.exists("backup.json"):
        print(f"error: {src_uri} holds no DataFlux backup (backup.json)", file=sys.stderr)
        return 2
    home = settings.home
    if any((home / f).exists() for f in (*FOLDERS, "lancedb", "dataflux.db")):
        print(f"error: {home} is not empty; restore into a new DATAFLUX_HOME", file=sys.stderr)
        return 2
    with src.open("backup.json") as f:
        manifest = json.load(f)
    for folder in (*FOLDERS, "lancedb", "dagster"):
        for rel in src.fs.find(src.full(folder)) if src.exists(folder) else []:
            inner = rel.removeprefix(src.root.rstrip("/") + "/")
            local = home / inner if folder != "dagster" else settings.dagster_home / inner[7:]
            src.get_file(inner, local)
    _roll_back_index(settings, manifest["index_versions"])
    with src.open("catalog.json") as f:
        dump = json.load(f)
    live = Catalog.open(settings.database)
    rows = load_database(live, dump)
    with live.reading() as s:
        ids = list(s.scalars(select(Asset.asset_id)))
    synced = sync_index(live, TableStore(settings.tables), IndexWriter(settings.lancedb), ids)
    print(f"restored {rows} database rows; index rows per space after sync: {synced}")
    return 0


def _roll_back_index(settings: Settings, versions: dict[str, int]) -> None:
    """Each space back at the version the backup pinned (later ones were copied too)."""
    from dataflux_pipeline.storage.index import IndexWriter

    index = IndexWriter(settings.lancedb)
    for space, version in versions.items():
        if space in index.spaces() and index.table(space).version != version:
            table = index.table(space)
            table.checkout(version)
            table.restore()
