"""The one Definitions object: what `dagster dev` and the webserver load."""

import os

import dagster as dg

from dataflux_pipeline.defs.assets import (
    analysis,
    checks,
    embeddings,
    index,
    intake,
    maintenance,
    relationships,
)
from dataflux_pipeline.defs.deployment import executor_for
from dataflux_pipeline.defs.jobs import ingest_job
from dataflux_pipeline.defs.resources import resources_for
from dataflux_pipeline.defs.sensors.landing import landing_sensor
from dataflux_pipeline.defs.sensors.s3_landing import s3_landing_sensor
from dataflux_pipeline.defs.sensors.sweep import daily_sweep
from dataflux_pipeline.settings import get_settings

DEPLOYMENT = os.environ.get("DATAFLUX_DEPLOYMENT", "local")

defs = dg.Definitions(
    assets=dg.load_assets_from_modules(
        [intake, analysis, embeddings, index, relationships, maintenance]
    ),
    asset_checks=dg.load_asset_checks_from_modules([checks]),
    jobs=[ingest_job, maintenance.index_maintenance_job],
    sensors=[landing_sensor, s3_landing_sensor, maintenance.index_automation],
    schedules=[daily_sweep, maintenance.index_maintenance_schedule],
    resources=resources_for(get_settings(), DEPLOYMENT),
    executor=executor_for(DEPLOYMENT),
)
