from __future__ import annotations

import json

import dagster as dg

from dataflux_pipeline.definitions import defs
from tests.support.defs_probe import probe

INGEST_ASSETS = {
    "assets",
    "segments",
    "features_video",
    "features_audio",
    "features_image",
    "features_document",
    "features_vision",
    "features_region",
    "descriptors",
    "analyses",
    "relationships",
    "embeddings",
    "search_index",
    "people",
    "proxies",
}


def test_definitions_load_with_every_piece() -> None:
    repo = defs.get_repository_def()
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    assert keys == INGEST_ASSETS | {
        "index_sync",
        "purged",
        "search_index_indexes",
        "search_index_optimized",
    }
    assert {s.name for s in repo.sensor_defs} == {
        "sources_sensor",
        "catalog_sensor",
        "index_automation",
    }
    sources = defs.resolve_sensor_def("sources_sensor")
    assert sources.job_name == "ingest"
    assert sources.default_status == dg.DefaultSensorStatus.RUNNING
    catalog = defs.resolve_sensor_def("catalog_sensor")
    assert sorted(t.job_name for t in catalog.targets) == ["catalog_sync", "ingest"]
    assert defs.resolve_schedule_def("daily_sweep").cron_schedule == "0 3 * * *"
    assert {j.name for j in repo.get_all_jobs()} - {"__ASSET_JOB"} == {
        "ingest",
        "catalog_sync",
        "index_maintenance",
    }
    ingest = defs.resolve_job_def("ingest")
    assert ingest.partitions_def.name == "batches"
    selected = {k.to_user_string() for k in ingest.asset_layer.executable_asset_keys}
    assert selected == INGEST_ASSETS  # no lifecycle or maintenance step in a batch run
    sync = defs.resolve_job_def("catalog_sync")
    assert sync.partitions_def is None
    assert {n.name for n in sync.graph.nodes} == {"index_sync", "purged"}
    maintenance = defs.resolve_job_def("index_maintenance")
    assert maintenance.partitions_def is None
    assert {n.name for n in maintenance.graph.nodes} == {
        "search_index_indexes",
        "search_index_optimized",
    }
    schedule = defs.resolve_schedule_def("index_maintenance_hourly")
    assert schedule.cron_schedule == "17 * * * *" and schedule.job_name == "index_maintenance"
    indexes = repo.asset_graph.get(dg.AssetKey("search_index_indexes"))
    assert indexes.automation_condition is not None
    assert dg.AssetKey("search_index") in indexes.parent_keys
    automation = defs.resolve_sensor_def("index_automation")
    assert automation.default_status == dg.DefaultSensorStatus.RUNNING
    checks = {k.name for k in repo.asset_graph.asset_check_keys}
    assert checks == {
        "assets_keys",
        "segments_keys",
        "embeddings_dimensions",
        "index_matches_catalog",
    }
    assert set(repo.get_top_level_resources()) == {
        "storage",
        "catalog",
        "sources",
        "analyzers",
        "models",
        "s3",
    }


def test_model_heavy_assets_carry_gpu_tags() -> None:
    """Where model steps run on GPUs, the embedding step asks for one; a local run on the
    CPU (these tests' own process) carries no GPU pool or tag at all."""
    local = defs.resolve_job_def("ingest").graph.node_named("embeddings").definition
    assert local.pool is None and "dagster-k8s/config" not in local.tags
    node = defs.get_repository_def().asset_graph.get(dg.AssetKey("embeddings"))
    assert node.partitions_def.name == "batches"
    gpu = probe({"DATAFLUX_GPU_STEPS": "true"})["ops"]["embeddings"]
    assert gpu["pool"] == "gpu"
    k8s = json.loads(gpu["tags"]["dagster-k8s/config"])
    limits = k8s["container_config"]["resources"]["limits"]
    assert limits == {"nvidia.com/gpu": "1"}
