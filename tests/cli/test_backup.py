"""`dataflux backup` and `restore`: a snapshot taken while an ingest runs restores into an
empty home that answers searches the way its catalog says, with the same rows."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from dataflux_pipeline.catalog.projection import disagreements
from dataflux_pipeline.cli.backup import backup, restore
from dataflux_pipeline.storage.index import IndexWriter
from dataflux_pipeline.storage.tables import TableStore
from tests.catalog.home import Home, home_at
from tests.catalog.machine import CONTENTS, QUERIES, content_id

pytestmark = pytest.mark.slow


def answers(home: Home) -> dict[str, list[str]]:
    return {q: [h["asset_id"] for h in home.search(q, limit=3)] for q in QUERIES}


def counts(home: Home) -> dict[str, int]:
    return {t: home.table(t).height for t in ("segments", "embeddings", "analyses")}


def test_backup_and_restore_give_the_same_answers(tmp_path: Path) -> None:
    with home_at(tmp_path / "a") as home:
        for n, text in enumerate(CONTENTS[:3]):
            home.put(f"docs/{n}.txt", text)
        home.ingest()
        assert backup(home.settings, str(tmp_path / "backup")) == 0
        expected, rows, live = answers(home), counts(home), home.live()
    with home_at(tmp_path / "b") as restored:
        assert restore(restored.settings, str(tmp_path / "backup")) == 0
        assert restored.live() == live
        assert answers(restored) == expected
        assert counts(restored) == rows
        assert restore(restored.settings, str(tmp_path / "backup")) == 2  # not into a used home


def test_a_backup_taken_during_an_ingest_is_consistent(tmp_path: Path) -> None:
    with home_at(tmp_path / "a") as home:
        home.put("docs/first.txt", CONTENTS[0])
        home.ingest()
        for n, text in enumerate(CONTENTS[1:], 1):
            for copy in range(6):  # enough work for the backup to land mid-run
                home.put(f"more/{n}-{copy}.txt", f"{text} Copy {copy}.")
        ingesting = threading.Thread(target=home.ingest)
        ingesting.start()
        assert backup(home.settings, str(tmp_path / "backup")) == 0
        ingesting.join()
    with home_at(tmp_path / "b") as restored:
        assert restore(restored.settings, str(tmp_path / "backup")) == 0
        live = restored.live()
        assert content_id(0) in live
        index = IndexWriter(restored.settings.lancedb)
        tables = TableStore(restored.settings.tables)
        assert disagreements(restored.catalog, tables, index, live) == []
        for asset_id in live:
            rows = restored.rows_of(asset_id)
            assert rows["segments"] == rows["embeddings"] == rows["analyses"] == 1
        assert restored.search(QUERIES[0])[0]["asset_id"] == content_id(0)
        # the originals are referenced, not in the backup: with the media folder where it
        # was, the restored home carries on and takes what the snapshot had not reached
        import shutil

        shutil.copytree(tmp_path / "a" / "data" / "landing", restored.landing, dirs_exist_ok=True)
        restored.ingest()
        assert len(restored.live()) == len(CONTENTS[1:]) * 6 + 1
