"""Asset-level search filters (serving.views.CatalogView.matching) on a small live catalog
written here, and how Searcher.where turns them into the index prefilter. No socket, no
pipeline run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from dataflux_pipeline.accounts.principals import Principal
from dataflux_pipeline.catalog import Catalog
from dataflux_pipeline.catalog.models import Asset
from dataflux_pipeline.catalog.requests import delete
from dataflux_pipeline.serving import search as search_module
from dataflux_pipeline.serving.schemas import Filters
from dataflux_pipeline.serving.search import EmptyResult, Searcher
from dataflux_pipeline.serving.views import CatalogView, _conditions
from dataflux_pipeline.settings import Settings
from dataflux_pipeline.storage.tables import TableStore

VIDEO, SONG, CHANT, PHOTO, MEMO, GONE, OLD = (c * 64 for c in "1234567")
CANON = {"technical": {"exif": {"Make": "Canon", "ISO": 400}}, "public": True}
NIKON = {"technical": {"exif": {"Make": "Nikon", "ISO": 100}}, "public": False}


def asset(asset_id: str, **fields) -> Asset:
    defaults = {"status": "indexed", "live": True, "analysis_partition": "p2"}
    return Asset(asset_id=asset_id, **(defaults | fields))


def day(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def audio_row(asset_id: str, segment: str, tempo: float, key: str, mode: str) -> dict:
    return {
        "segment_id": f"{asset_id}:{segment}",
        "asset_id": asset_id,
        "tempo_bpm": tempo,
        "key": key,
        "mode": mode,
    }


@pytest.fixture
def view(tmp_path: Path) -> CatalogView:
    catalog = Catalog.open(f"sqlite:///{tmp_path / 'dataflux.db'}")
    with catalog.session() as s:
        s.add_all(
            [
                asset(
                    VIDEO,
                    media_type="video",
                    mime_type="video/mp4",
                    duration_s=12.0,
                    width=1920,
                    height=1080,
                    arrived_at=day(2024, 1),
                ),
                asset(
                    SONG,
                    media_type="audio",
                    mime_type="audio/wav",
                    duration_s=180.0,
                    arrived_at=day(2024, 6),
                ),
                asset(
                    CHANT,
                    media_type="audio",
                    mime_type="audio/mpeg",
                    duration_s=60.0,
                    arrived_at=day(2024, 6),
                    analysis_partition="p1",
                ),
                asset(
                    PHOTO,
                    media_type="image",
                    mime_type="image/jpeg",
                    details=CANON,
                    width=640,
                    height=480,
                    arrived_at=day(2025, 1),
                ),
                asset(
                    MEMO,
                    media_type="image",
                    mime_type="image/jpeg",
                    details=NIKON,
                    width=300,
                    height=200,
                    arrived_at=day(2025, 1),
                ),
                # neither a deleted content nor one gone from its folder ever matches
                asset(
                    GONE,
                    media_type="image",
                    mime_type="image/jpeg",
                    details=CANON,
                    width=4000,
                    live=False,
                    deleted_at=day(2025, 2),
                ),
                asset(OLD, media_type="audio", mime_type="audio/wav", live=False, width=1),
            ]
        )
    tables = TableStore(tmp_path / "tables")
    # SONG's current analysis is p2; p1 holds rows an older analysis left behind
    tables.write(
        "features_audio",
        "p2",
        [
            audio_row(SONG, "track:0", 120.0, "A", "minor"),
            audio_row(SONG, "window:3", 90.0, "C", "major"),  # a window, not the track
            audio_row(VIDEO, "track:0", 100.0, "C", "major"),
        ],
    )
    tables.write(
        "features_audio",
        "p1",
        [
            audio_row(SONG, "track:0", 70.0, "C", "major"),
            audio_row(CHANT, "track:0", 70.0, "D", "minor"),
            audio_row(OLD, "track:0", 120.0, "A", "minor"),
        ],
    )
    return CatalogView(catalog, tables, check_every_s=0)


def match(view: CatalogView, **filters) -> set[str] | None:
    return view.matching(Filters.model_validate(filters))


def test_no_asset_level_filter_is_no_restriction(view: CatalogView) -> None:
    assert view.matching(None) is None
    assert match(view) is None
    assert match(view, kinds=["cue"]) is None  # segment kinds filter index rows, not assets


def test_catalog_columns(view: CatalogView) -> None:
    assert match(view, mime_types=["image/jpeg"]) == {PHOTO, MEMO}
    assert match(view, mime_types=["audio/wav", "video/mp4"]) == {SONG, VIDEO}
    assert match(view, duration_s={"min": 12, "max": 60}) == {VIDEO, CHANT}  # inclusive
    assert match(view, duration_s={"min": 61}) == {SONG}
    assert match(view, width={"min": 640}) == {VIDEO, PHOTO}
    assert match(view, width={"max": 640}, height={"min": 300}) == {PHOTO}
    assert match(view, mime_types=["image/jpeg"], width={"min": 1000}) == set()


def test_arrival_is_from_inclusive_to_exclusive(view: CatalogView) -> None:
    assert match(view, arrived_at={"from": "2024-06-01T00:00:00Z"}) == {SONG, CHANT, PHOTO, MEMO}
    assert match(view, arrived_at={"to": "2024-06-01T00:00:00Z"}) == {VIDEO}
    # a time without a zone is UTC; one with a zone is converted
    assert match(view, arrived_at={"from": "2025-01-01T00:00:00"}) == {PHOTO, MEMO}
    assert match(view, arrived_at={"to": "2024-06-01T02:00:00+02:00"}) == {VIDEO}
    assert match(view, arrived_at={"from": "2024-06-01T01:00:00+02:00"}) == {
        SONG,
        CHANT,
        PHOTO,
        MEMO,
    }


def test_metadata_by_dotted_path(view: CatalogView) -> None:
    assert match(view, metadata={"technical.exif.Make": "Canon"}) == {PHOTO}
    assert match(view, metadata={"technical.exif.Make": ["Nikon", "Canon"]}) == {PHOTO, MEMO}
    assert match(view, metadata={"technical.exif.ISO": 100}) == {MEMO}  # numbers as JSON
    assert match(view, metadata={"public": True}) == {PHOTO}  # true, not "True"
    assert match(view, metadata={"public": False}) == {MEMO}
    assert match(view, metadata={"technical.exif.Model": "X100"}) == set()  # no such key
    both = {"technical.exif.Make": "Canon", "technical.exif.ISO": 100}
    assert match(view, metadata=both) == set()  # every filter must hold


def test_audio_filters_read_the_current_analysis_of_the_track(view: CatalogView) -> None:
    assert match(view, key=["A"]) == {SONG}  # OLD has an A-minor track but is not live
    assert match(view, key=["C"]) == {VIDEO}  # SONG's C is a window and an old analysis
    assert match(view, tempo_bpm={"min": 110, "max": 130}) == {SONG}
    assert match(view, tempo_bpm={"max": 80}) == {CHANT}  # CHANT's current analysis is p1
    assert match(view, mode="minor") == {SONG, CHANT}
    assert match(view, mode="minor", mime_types=["audio/mpeg"]) == {CHANT}
    assert match(view, key=["F#"]) == set()


def test_audio_filters_without_any_audio_features(tmp_path: Path) -> None:
    catalog = Catalog.open(f"sqlite:///{tmp_path / 'dataflux.db'}")
    with catalog.session() as s:
        s.add(asset(SONG, media_type="audio", mime_type="audio/wav"))
    empty = CatalogView(catalog, TableStore(tmp_path / "tables"), check_every_s=0)
    assert empty.matching(Filters(mode="major")) == set()
    assert empty.matching(Filters(mime_types=["audio/wav"])) == {SONG}


def test_conditions_are_one_per_bound() -> None:
    f = Filters.model_validate(
        {"mime_types": ["a/b"], "duration_s": {"min": 1}, "width": {"min": 1, "max": 2}}
    )
    assert len(_conditions(f)) == 4
    assert _conditions(Filters(tempo_bpm={"min": 1})) == []  # audio ones are applied apart


class StubCatalog:
    def __init__(self, allowed: set[str] | None) -> None:
        self.allowed = allowed
        self.asked: list[Filters | None] = []

    def matching(self, filters: Filters | None) -> set[str] | None:
        self.asked.append(filters)
        return self.allowed

    def snapshot(self):
        """A catalog whose index rows are all in step with it (nothing pending)."""
        return SimpleNamespace(dirty=frozenset(), visible_ids=lambda _principal: frozenset())


def searcher(allowed: set[str] | None) -> Searcher:
    settings = Settings(home=Path("/nonexistent"), query_batching=False)
    return Searcher(settings, index=object(), catalog=StubCatalog(allowed))


def test_where_prefilters_media_kinds_and_few_allowed_assets() -> None:
    filters = Filters(kinds=["cue", "chunk"], mime_types=["text/plain"])
    where, allowed = searcher({"b" * 64, "a" * 64}).where(["document", "video"], filters)
    assert where == (
        "(media_type IN ('document', 'video')) AND (kind IN ('cue', 'chunk')) "
        f"AND (asset_id IN ('{'a' * 64}', '{'b' * 64}'))"
    )
    assert allowed is None  # checked by the index, nothing left to check after
    assert searcher(None).where(None, None) == (None, None)
    viewer = Principal("user", "ana", "viewer", frozenset({"assets:read"}), 5, frozenset({3}))
    assert searcher(None).where(None, None, viewer) == (
        "(array_has_any(readers, ['g:3', 'public', 'u:5']))",
        None,
    )
    quoted, _ = searcher(None).where(None, Filters(kinds=["it's"]))
    assert quoted == "(kind IN ('it''s'))"


def test_where_leaves_many_allowed_assets_for_after_the_search(monkeypatch) -> None:
    monkeypatch.setattr(search_module, "PREFILTER_MAX_ASSETS", 3)
    many = {f"{n:064x}" for n in range(4)}
    where, allowed = searcher(many).where(["image"], Filters(width={"min": 1}))
    assert where == "(media_type IN ('image'))" and allowed == many
    few = set(sorted(many)[:3])
    where, allowed = searcher(few).where(None, Filters(width={"min": 1}))
    assert allowed is None and where.count("'") == 6


def test_where_with_nothing_allowed_is_an_empty_result() -> None:
    with pytest.raises(EmptyResult):
        searcher(set()).where(None, Filters(mime_types=["image/x-none"]))


def test_visible_keeps_rows_of_live_allowed_contents_only(view: CatalogView) -> None:
    s = Searcher(Settings(home=Path("/nonexistent"), query_batching=False), object(), view)
    rows = [{"asset_id": a, "segment_id": f"{a}:chunk:0"} for a in (PHOTO, GONE, OLD, MEMO)]
    assert [r["asset_id"] for r in s.visible(rows, None)] == [PHOTO, MEMO]
    assert [r["asset_id"] for r in s.visible(rows, {MEMO, GONE})] == [MEMO]
    # a deletion is seen by the next request, before any index sync
    assert delete(view.catalog, PHOTO, actor="test") == []
    assert [r["asset_id"] for r in s.visible(rows, None)] == [MEMO]
    assert match(view, metadata={"technical.exif.Make": ["Nikon", "Canon"]}) == {MEMO}
