"""Batch planning: which listed files are new and settled, how they group with their
sidecars into bounded batches, and keys that depend only on what a batch holds."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dataflux_pipeline.intake.batches import (
    Batch,
    BatchFile,
    Ledger,
    Observed,
    decode_cursor,
    encode_cursor,
    plan_from_listing,
    reanalysis_batch,
)
from dataflux_pipeline.intake.listing import list_folder, next_start_after

NOW = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC
OLD = int((NOW - 3600) * 1e9)  # an hour before NOW: settled under any test's settle time


def plan(listing, known=None, pending=None, settle=0.0, batch_size=64, now=NOW, source="landing"):
    return plan_from_listing(listing, known or {}, pending or {}, settle, batch_size, now, source)


def paths(result) -> list[list[str]]:
    return [[f.path for f in b.files] for b in result.batches]


def test_new_files_become_one_batch_with_their_sidecars() -> None:
    listing = {
        "clip.mp4": Observed(100, OLD),
        "clip.en.srt": Observed(10, OLD + 1),
        "notes/a.txt": Observed(5, OLD + 2),
        "song.wav": Observed(50, OLD + 3),
        "song.json": Observed(2, OLD + 4),
    }
    result = plan(listing, source="inbox")
    assert result.pending == {}
    [batch] = result.batches
    assert batch.kind == "files" and batch.created_at == datetime.fromtimestamp(NOW, UTC)
    assert batch.partition.startswith("20250615-") and len(batch.partition) == 9 + 12
    assert [f.path for f in batch.files] == ["clip.mp4", "notes/a.txt", "song.wav"]
    clip, note, song = batch.files
    assert clip == BatchFile(
        source="inbox",
        path="clip.mp4",
        size=100,
        mtime_ns=OLD,
        sidecars={"subtitle": "clip.en.srt"},
        sidecar_versions={"clip.en.srt": (10, OLD + 1)},
    )
    assert note.sidecars == {} and note.source == "inbox"
    assert song.sidecars == {"metadata": "song.json"}
    assert song.sidecar_versions == {"song.json": (2, OLD + 4)}


def test_known_versions_are_not_taken_again_but_changed_ones_are() -> None:
    listing = {"a.txt": Observed(5, OLD), "b.txt": Observed(6, OLD), "c.txt": Observed(7, OLD)}
    known = {"a.txt": Observed(5, OLD), "b.txt": Observed(6, OLD - 1), "c.txt": Observed(7, OLD)}
    assert paths(plan(listing, known)) == [["b.txt"]]
    assert plan(listing, dict(listing)).batches == []
    bigger = {"c.txt": Observed(8, OLD)}
    assert paths(plan(listing | bigger, known)) == [["b.txt", "c.txt"]]


def test_files_settle_before_they_are_taken() -> None:
    settle = 60.0
    fresh = int((NOW - 10) * 1e9)
    listing = {"growing.txt": Observed(10, fresh), "old.txt": Observed(3, OLD)}
    first = plan(listing, settle=settle)
    assert paths(first) == [["old.txt"]]
    assert first.pending == {"growing.txt": Observed(10, fresh)}

    # old enough now, but it grew since the last evaluation saw it: wait one more round
    grown = {"growing.txt": Observed(25, OLD + 5)}
    second = plan(grown, pending=first.pending, settle=settle)
    assert second.batches == [] and second.pending == grown

    third = plan(grown, pending=second.pending, settle=settle)
    assert paths(third) == [["growing.txt"]] and third.pending == {}
    assert third.batches[0].files[0].size == 25


def test_a_pending_sidecar_holds_its_primary_back() -> None:
    fresh = int((NOW - 1) * 1e9)
    listing = {"clip.mp4": Observed(100, OLD), "clip.srt": Observed(10, fresh)}
    held = plan(listing, settle=30.0)
    assert held.batches == [] and held.pending == {"clip.srt": Observed(10, fresh)}
    later = plan(listing, pending=held.pending, settle=30.0, now=NOW + 60)
    assert paths(later) == [["clip.mp4"]]
    assert later.batches[0].files[0].sidecars == {"subtitle": "clip.srt"}


def test_a_changed_sidecar_brings_its_primary_back() -> None:
    listing = {"clip.mp4": Observed(100, OLD), "clip.srt": Observed(10, OLD)}
    known = dict(listing)
    assert plan(listing, known).batches == []
    edited = listing | {"clip.srt": Observed(12, OLD + 99)}
    [batch] = plan(edited, known).batches
    [again] = batch.files
    assert (again.path, again.size, again.mtime_ns) == ("clip.mp4", 100, OLD)
    assert again.sidecars == {"subtitle": "clip.srt"}
    assert again.sidecar_versions == {"clip.srt": (12, OLD + 99)}


def test_a_sidecar_without_its_primary_is_a_file_of_its_own() -> None:
    listing = {"clip.en.srt": Observed(10, OLD), "song.json": Observed(2, OLD)}
    [batch] = plan(listing).batches
    assert [(f.path, f.sidecars) for f in batch.files] == [("clip.en.srt", {}), ("song.json", {})]
    with_primary = listing | {"clip.mp4": Observed(100, OLD)}
    [batch] = plan(with_primary, known=listing).batches
    assert [(f.path, f.sidecars) for f in batch.files] == [
        ("clip.mp4", {"subtitle": "clip.en.srt"})
    ]


@pytest.mark.parametrize(("files", "size", "expected"), [(10, 4, [4, 4, 2]), (8, 4, [4, 4])])
def test_batches_are_bounded(files: int, size: int, expected: list[int]) -> None:
    listing = {f"doc{n:02d}.txt": Observed(n + 1, OLD + n) for n in range(files)}
    result = plan(listing, batch_size=size)
    assert [len(b.files) for b in result.batches] == expected
    taken = [f.path for b in result.batches for f in b.files]
    assert taken == sorted(listing)  # every file once, in path order
    assert len({b.partition for b in result.batches}) == len(expected)


def test_partition_keys_are_stable_for_the_same_listing_and_moment() -> None:
    listing = {f"doc{n}.txt": Observed(n + 1, OLD + n) for n in range(6)}
    keys = [b.partition for b in plan(listing, batch_size=4).batches]
    assert len(set(keys)) == 2 and all(k.startswith("20250615-") for k in keys)
    # the same evaluation replayed (listing order is the file system's) proposes the same keys
    again = plan(dict(reversed(listing.items())), batch_size=4).batches
    assert [b.partition for b in again] == keys
    # a changed file changes the key of its batch only
    changed = listing | {"doc1.txt": Observed(99, OLD + 1)}
    moved = [b.partition for b in plan(changed, batch_size=4).batches]
    assert moved[0] != keys[0] and moved[1] == keys[1]
    other_source = [b.partition for b in plan(listing, batch_size=4, source="inbox").batches]
    assert set(other_source).isdisjoint(keys)
    # the same versions planned at another moment (back after a removal) are a new batch
    later = [b.partition for b in plan(listing, batch_size=4, now=NOW + 30).batches]
    assert set(later).isdisjoint(keys)
    assert plan(listing, batch_size=4, now=NOW + 86400).batches[0].partition.startswith("20250616-")


def test_the_cursor_keeps_pending_files_per_source() -> None:
    state = {"landing": {"a.txt": Observed(1, 2)}, "inbox": {"b/c.mp4": Observed(3, 4)}}
    cursor = encode_cursor(state, s3={"inbox": {"start_after": "b/"}})
    assert json.loads(cursor)["pending"] == {
        "landing": {"a.txt": [1, 2]},
        "inbox": {"b/c.mp4": [3, 4]},
    }
    decoded, extra = decode_cursor(cursor)
    assert decoded == state and extra == {"s3": {"inbox": {"start_after": "b/"}}}
    assert decode_cursor(None) == ({}, {}) and decode_cursor("") == ({}, {})


def test_ledger_writes_whole_manifests(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "batches")
    assert ledger.partitions() == []
    listing = {
        "b.txt": Observed(2, OLD),
        "a.txt": Observed(1, OLD),
        "caf\udce9.txt": Observed(3, OLD),
    }
    [batch] = plan(listing).batches
    ledger.write(batch)
    ledger.write(batch)  # a repeated tick rewrites the same manifest
    assert ledger.read(batch.partition) == batch
    assert ledger.partitions() == [batch.partition]
    assert sorted(os.listdir(ledger.folder)) == [f"{batch.partition}.json"]  # no temp left
    with pytest.raises(FileNotFoundError, match="no manifest for partition 'nope'"):
        ledger.read("nope")


def test_reanalysis_batches_name_their_contents() -> None:
    ids = ["b" * 64, "a" * 64]
    batch = reanalysis_batch(ids, now=NOW)
    assert batch.kind == "reanalysis" and batch.files == []
    assert batch.assets == sorted(ids)
    assert batch.partition.startswith("re-20250615-")
    assert reanalysis_batch(list(reversed(ids)), now=NOW).partition == batch.partition
    assert reanalysis_batch(ids, now=NOW + 1).partition != batch.partition  # a new request
    assert Batch.model_validate(batch.model_dump(mode="json")) == batch


def test_a_folder_listing_feeds_the_plan(tmp_path: Path) -> None:
    root = tmp_path / "landing"
    (root / "sub").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / "sub" / "a.txt").write_text("aa")
    (root / "b.mp4").write_bytes(b"x" * 7)
    (root / "b.srt").write_text("1")
    (root / ".partial.mp4").write_text("being written")
    (root / ".hidden" / "c.txt").write_text("c")
    (root / "link.txt").symlink_to(root / "sub" / "a.txt")
    listing = list_folder(root)
    assert sorted(listing) == ["b.mp4", "b.srt", "link.txt", "sub/a.txt"]
    st = (root / "sub" / "a.txt").stat()
    assert listing["sub/a.txt"] == Observed(st.st_size, st.st_mtime_ns)
    assert list_folder(tmp_path / "nowhere") == {}
    planned = plan(listing, now=st.st_mtime_ns / 1e9 + 1)
    assert paths(planned) == [["b.mp4", "link.txt", "sub/a.txt"]]


def test_s3_resumes_after_settled_keys_only() -> None:
    uri = "s3://bucket/in"
    listing = {"a.txt": Observed(1, 1), "b.txt": Observed(1, 1), "d.txt": Observed(1, 1)}
    assert next_start_after(uri, listing, {}, None) == "in/d.txt"
    assert next_start_after(uri, listing, {"b.txt": Observed(1, 1)}, None) == "in/a.txt"
    assert next_start_after(uri, listing, {"a.txt": Observed(1, 1)}, "in/0") == "in/0"
    assert next_start_after(uri, {}, {}, "in/x.txt") == "in/x.txt"
