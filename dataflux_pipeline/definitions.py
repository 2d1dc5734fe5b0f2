"""The one Definitions object: what `dagster dev` and the webserver load."""

import dagster as dg

from dataflux_pipeline.defs.assets import (
    analysis,
    checks,
    embeddings,
    index,
    intake,
    lifecycle,
    maintenance,
    people,
    proxies,
    relationships,
)
from dataflux_pipeline.defs.deployment import executor_for
from dataflux_pipeline.defs.jobs import ingest_job
from dataflux_pipeline.defs.resources import resources_for
from dataflux_pipeline.defs.sensors.catalog import catalog_sensor
from dataflux_pipeline.defs.sensors.sources import sources_sensor
from dataflux_pipeline.defs.sensors.sweep import daily_sweep
from dataflux_pipeline.settings import get_settings

SETTINGS = get_settings()

defs = dg.Definitions(
    assets=dg.load_assets_from_modules(
        [
            intake,
            analysis,
            proxies,
            embeddings,
            index,
            relationships,
            people,
            lifecycle,
            maintenance,
        ]
    ),
    asset_checks=dg.load_asset_checks_from_modules([checks]),
    jobs=[ingest_job, lifecycle.catalog_sync_job, maintenance.index_maintenance_job],
    sensors=[sources_sensor, catalog_sensor, maintenance.index_automation],
    schedules=[daily_sweep, maintenance.index_maintenance_schedule],
    resources=resources_for(SETTINGS),
    executor=executor_for(SETTINGS.deployment),
)
