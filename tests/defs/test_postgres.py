"""A full partition (sensor tick, every asset, index) on the production instance config,
with Dagster's storage and the live catalog (the app database) both in the real
PostgreSQL server, in one database the test creates and drops."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef

from dataflux_pipeline.catalog import Catalog
from dataflux_pipeline.cli.samples import RECIPE_MD, write_image
from dataflux_pipeline.db import database_for
from dataflux_pipeline.definitions import defs
from dataflux_pipeline.defs.resources import resources_for
from dataflux_pipeline.defs.sensors.sources import sources_sensor
from dataflux_pipeline.settings import Settings
from dataflux_pipeline.storage.index import IndexReader
from tests.support.databases import postgres_database

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def database() -> Iterator[dict[str, str]]:
    """A fresh database for Dagster's storage, as the DAGSTER_PG_* variables name it."""
    with postgres_database() as address:
        url = urlparse(address)
        yield {
            "DAGSTER_PG_HOST": url.hostname or "127.0.0.1",
            "DAGSTER_PG_PORT": str(url.port or 5432),
            "DAGSTER_PG_USER": url.username or "postgres",
            "DAGSTER_PG_PASSWORD": url.password or "",
            "DAGSTER_PG_DB": url.path.lstrip("/"),
        }


def query(env: dict[str, str], sql: str) -> int:
    import psycopg2

    with (
        psycopg2.connect(
            host=env["DAGSTER_PG_HOST"],
            port=env["DAGSTER_PG_PORT"],
            user=env["DAGSTER_PG_USER"],
            password=env["DAGSTER_PG_PASSWORD"],
            dbname=env["DAGSTER_PG_DB"],
        ) as conn,
        conn.cursor() as cur,
    ):
        cur.execute(sql)
        return cur.fetchone()[0]


def test_partition_runs_on_postgres_storage(database, tmp_path: Path, monkeypatch) -> None:
    for key, value in database.items():
        monkeypatch.setenv(key, value)
    home = tmp_path / "dagster"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    settings = Settings(home=tmp_path / "data", settle_seconds=0.0)
    settings.landing.mkdir(parents=True)
    (settings.landing / "bread.md").write_text(RECIPE_MD)
    write_image(settings.landing / "beach.jpg", (230, 120, 40))
    database_url = (
        f"postgresql+psycopg2://{database['DAGSTER_PG_USER']}:{database['DAGSTER_PG_PASSWORD']}"
        f"@{database['DAGSTER_PG_HOST']}:{database['DAGSTER_PG_PORT']}/{database['DAGSTER_PG_DB']}"
    )
    settings = settings.model_copy(update={"database_url": database_url})
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        queue = instance.get_concurrency_config().run_queue_config
        assert queue.max_concurrent_runs == 8
        assert queue.tag_concurrency_limits[0]["key"] == "dataflux/accelerator"
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 4
        ctx = dg.build_sensor_context(instance=instance, resources=resources_for(settings))
        tick = sources_sensor(ctx)
        for req in tick.dynamic_partitions_requests:
            instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
        (request,) = tick.run_requests
        result = defs.resolve_job_def("ingest").execute_in_process(
            partition_key=request.partition_key,
            instance=instance,
            resources=resources_for(settings),
            tags=request.tags,
        )
        assert result.success
        assert instance.get_dynamic_partitions("batches") == [request.partition_key]
        produced = {e.asset_key for e in result.get_asset_materialization_events()}
    live = Catalog.open(settings.database)
    assert live.db.engine.dialect.name == "postgresql"
    assert live.counts() == {"indexed": 2}
    database_for(settings.database).dispose()  # before the database is dropped
    assert query(database, "SELECT count(*) FROM runs") == 1
    materialized = query(
        database,
        "SELECT count(DISTINCT asset_key) FROM event_logs "
        "WHERE dagster_event_type = 'ASSET_MATERIALIZATION'",
    )
    assert materialized == len(produced) >= 11  # every asset of the ingest job, stored there
    # the live catalog's tables sit beside Dagster's, under their own schema version
    assert query(database, "SELECT count(*) FROM assets WHERE live AND status = 'indexed'") == 2
    assert query(database, "SELECT count(*) FROM source_paths WHERE state = 'present'") == 2
    assert query(database, "SELECT count(*) FROM dataflux_schema_version") == 1
    assert IndexReader(settings.lancedb).count("text") == 3  # three Markdown chunks
