from __future__ import annotations

import json

import dagster as dg

from dataflux_pipeline.definitions import defs


def test_definitions_load_with_every_piece() -> None:
    repo = defs.get_repository_def()
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    assert keys == {
        "assets",
        "segments",
        "features_video",
        "features_audio",
        "features_image",
        "features_document",
        "relationships",
        "embeddings",
        "search_index",
        "search_index_indexes",
        "search_index_optimized",
    }
    assert defs.get_sensor_def("landing_sensor").job_name == "ingest"
    assert defs.get_schedule_def("daily_sweep").cron_schedule == "0 3 * * *"
    assert defs.resolve_job_def("ingest").partitions_def.name == "batches"
    maintenance = defs.resolve_job_def("index_maintenance")
    assert maintenance.partitions_def is None
    assert {n.name for n in maintenance.graph.nodes} == {
        "search_index_indexes",
        "search_index_optimized",
    }
    schedule = defs.get_schedule_def("index_maintenance_hourly")
    assert schedule.cron_schedule == "17 * * * *" and schedule.job_name == "index_maintenance"
    indexes = repo.asset_graph.get(dg.AssetKey("search_index_indexes"))
    assert indexes.automation_condition is not None
    assert dg.AssetKey("search_index") in indexes.parent_keys
    automation = defs.get_sensor_def("index_automation")
    assert automation.default_status == dg.DefaultSensorStatus.RUNNING
    checks = {k.name for k in repo.asset_graph.asset_check_keys}
    assert checks == {
        "assets_keys",
        "segments_keys",
        "embeddings_dimensions",
        "index_matches_embeddings",
    }


def test_model_heavy_assets_carry_gpu_tags() -> None:
    graph = defs.get_repository_def().asset_graph
    node = graph.get(dg.AssetKey("embeddings"))
    op = defs.resolve_job_def("ingest").graph.node_named("embeddings").definition
    assert op.pool == "gpu"
    k8s = json.loads(op.tags["dagster-k8s/config"])
    limits = k8s["container_config"]["resources"]["limits"]
    assert limits == {"nvidia.com/gpu": "1"}
    assert node.partitions_def.name == "batches"
