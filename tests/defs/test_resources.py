"""Resources carry every knob their steps use, so what the launchpad shows is what runs:
a step's settings come from its resource's fields, never from the environment of the
process running it."""

from __future__ import annotations

import dagster as dg
import pytest

from dataflux_pipeline.defs.resources import (
    AnalyzersResource,
    CatalogResource,
    EmbeddingModels,
    SourcesResource,
    StorageResource,
    resources_for,
)
from dataflux_pipeline.settings import Settings

KNOBS = {
    "audio_window_s": 4.0,
    "min_shot_s": 1.5,
    "thumbnail_width": 200,
    "batch_size": 7,
    "settle_seconds": 9.0,
    "ann_index_min_rows": 1234,
    "doc_chunk_chars": 300,
    "max_image_pixels": 1_000_000,
    "retention_s": 60.0,
}


def test_local_resources_carry_the_settings_they_were_built_from(tmp_path, monkeypatch) -> None:
    settings = Settings(home=tmp_path / "data", **KNOBS)
    resources = resources_for(settings, "local")
    for name, resource in resources.items():
        if isinstance(resource, dg.ConfigurableResource) and hasattr(resource, "settings"):
            for field in type(resource).model_fields:
                if field == "sources":
                    continue
                value = getattr(resource, field)
                expected = (
                    settings.database if field == "database_url" else getattr(settings, field)
                )
                assert str(value) == str(expected), (name, field)
    # the environment of the process that runs the step changes nothing
    monkeypatch.setenv("DATAFLUX_AUDIO_WINDOW_S", "99")
    monkeypatch.setenv("DATAFLUX_BATCH_SIZE", "1")
    monkeypatch.setenv("DATAFLUX_THUMBNAIL_WIDTH", "17")
    analyzed = resources["analyzers"].settings()
    assert analyzed.audio_window_s == 4.0 and analyzed.thumbnail_width == 200
    assert resources["sources"].settings().batch_size == 7
    registry = resources["analyzers"].registry()
    audio = registry.for_mime("audio/wav")
    assert audio.settings.audio_window_s == 4.0


def test_every_pipeline_knob_belongs_to_a_resource() -> None:
    """The settings the pipeline's code reads are resource fields (the service's own
    knobs, read by `dataflux serve`, are not)."""
    fields = set()
    for resource in (
        StorageResource,
        CatalogResource,
        SourcesResource,
        AnalyzersResource,
        EmbeddingModels,
    ):
        fields |= set(resource.model_fields)
    pipeline = {
        "home",
        "storage_uri",
        "database_url",
        "retention_s",
        "landing_dir",
        "landing_uri",
        "copy_originals",
        "sources",
        "batch_size",
        "settle_seconds",
        "max_file_bytes",
        "max_duration_s",
        *KNOBS,
        "audio_sample_rate",
        "video_analysis_width",
        "video_chunk_frames",
        "max_shot_s",
        "doc_chunk_overlap_chars",
        "near_duplicate_max_distance",
        "whisper_model",
        "whisper_batch_size",
        "device",
        "text_model",
        "clip_model",
        "embed_batch_size",
        "cuda_batch_size",
        "ann_index_type",
        "fts_index_min_rows",
        "ann_nprobes",
        "ann_refine_factor",
        "ann_ef",
        "index_keep_versions_s",
    }
    assert pipeline <= fields, sorted(pipeline - fields)
    assert fields <= set(Settings.model_fields), sorted(fields - set(Settings.model_fields))


def test_deployments_really_differ(tmp_path) -> None:
    settings = Settings(home=tmp_path / "data")
    local = resources_for(settings, "local")
    production = resources_for(settings, "production")
    assert local["catalog"].database_url.startswith("sqlite:///")
    assert isinstance(production["catalog"].database_url, dg.EnvVar)
    assert production["catalog"].database_url.env_var_name == "DATAFLUX_DATABASE_URL"
    assert local["storage"].storage_uri is None
    assert isinstance(production["storage"].storage_uri, dg.EnvVar)


@pytest.mark.slow
def test_a_run_uses_the_resource_not_the_environment(tmp_path, monkeypatch) -> None:
    """A knob set in the environment after the resources were built does not reach the
    run: the audio windows follow the resource's 4 s, not the 99 s of the environment."""
    from dataflux_pipeline.cli.ingest import ingest
    from dataflux_pipeline.cli.samples import click_track, write_wav
    from dataflux_pipeline.storage.tables import TableStore

    settings = Settings(home=tmp_path / "data", settle_seconds=0.0, audio_window_s=4.0)
    write_wav(settings.landing / "click.wav", click_track(100, 12.0))
    monkeypatch.setenv("DATAFLUX_AUDIO_WINDOW_S", "99")
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        assert not ingest(settings, instance).failed_runs
    segments = TableStore(settings.tables).read("segments")
    windows = segments.filter(segments["kind"] == "window")
    assert windows.height == 3
