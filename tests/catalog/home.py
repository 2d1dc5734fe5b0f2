"""A DataFlux home driven the way a person drives it: files put into, copied, moved,
replaced and removed from the landing folder, `dataflux ingest`, the service's own
delete and re-analysis; plus readers for every place a content can show up."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import polars as pl
from sqlalchemy import select

from dataflux_pipeline.catalog import Catalog
from dataflux_pipeline.catalog.models import Asset, SourcePath
from dataflux_pipeline.cli.ingest import IngestReport, ingest
from dataflux_pipeline.settings import Settings
from dataflux_pipeline.storage.index import IndexReader
from dataflux_pipeline.storage.schemas import TABLES
from dataflux_pipeline.storage.tables import TableStore


class Home:
    def __init__(self, root: Path, **overrides) -> None:
        self.root = root
        # readers look at the catalog and the index on every call, as a test must
        overrides = {"settle_seconds": 0.0, "index_refresh_s": 0.0} | overrides
        self.settings = Settings(home=root / "data", **overrides)
        self.landing = self.settings.landing
        self.landing.mkdir(parents=True, exist_ok=True)
        (root / "dagster").mkdir(exist_ok=True)
        self._stack = contextlib.ExitStack()
        self.instance = self._stack.enter_context(
            dg.instance_for_test(temp_dir=str(root / "dagster"))
        )
        self.partitions: list[str] = []
        self._searcher = None
        self._url: str | None = None

    def close(self) -> None:
        self._stack.close()

    @property
    def url(self) -> str:
        """The real service on a real socket, started on first use."""
        if self._url is None:
            from tests.eval.harness import serve

            self._url = self._stack.enter_context(serve(self.settings))
        return self._url

    # ---- acting ------------------------------------------------------------------------
    def ingest(self) -> IngestReport:
        report = ingest(self.settings, self.instance)
        assert report.failed_runs == [], (report, self.failures())
        self.partitions += report.partitions
        return report

    def failures(self) -> list[str]:
        """What the failed steps of this home's runs said, for an assertion's message."""
        import dagster as dg

        out = []
        for record in self.instance.get_run_records(
            dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE])
        ):
            for e in self.instance.all_logs(record.dagster_run.run_id):
                if e.dagster_event_type == dg.DagsterEventType.STEP_FAILURE:
                    error = e.dagster_event.event_specific_data.error
                    out.append(f"{e.step_key}: {error.to_string() if error else e.message}")
        return out

    def tick(self) -> None:
        """One evaluation of the sources sensor and nothing else (no run)."""
        from dataflux_pipeline.definitions import defs
        from dataflux_pipeline.defs.resources import resources_for

        ctx = dg.build_sensor_context(
            instance=self.instance, resources=resources_for(self.settings)
        )
        defs.resolve_sensor_def("sources_sensor")(ctx)

    def run_partition(self, partition: str) -> None:
        """Re-materialize one past partition, as `dagster asset materialize` would."""
        from dataflux_pipeline.definitions import defs
        from dataflux_pipeline.defs.resources import resources_for

        result = defs.resolve_job_def("ingest").execute_in_process(
            partition_key=partition,
            instance=self.instance,
            resources=resources_for(self.settings),
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        assert result.success

    def run_job(self, name: str) -> None:
        from dataflux_pipeline.definitions import defs
        from dataflux_pipeline.defs.resources import resources_for

        result = defs.resolve_job_def(name).execute_in_process(
            instance=self.instance,
            resources=resources_for(self.settings),
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        assert result.success

    def put(self, rel: str, data: bytes | str) -> Path:
        path = self.landing / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            data = data.encode()
        path.write_bytes(data)
        return path

    def copy(self, src: str, dst: str) -> None:
        (self.landing / dst).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(self.landing / src, self.landing / dst)

    def move(self, src: str, dst: str) -> None:
        (self.landing / dst).parent.mkdir(parents=True, exist_ok=True)
        (self.landing / src).rename(self.landing / dst)

    def remove(self, rel: str) -> None:
        (self.landing / rel).unlink()

    # ---- reading -----------------------------------------------------------------------
    @property
    def catalog(self) -> Catalog:
        return Catalog.open(self.settings.database)

    def asset(self, asset_id: str) -> Asset | None:
        return self.catalog.get(asset_id)

    def live(self) -> dict[str, str]:
        """Live content -> the name it is shown under."""
        with self.catalog.reading() as s:
            rows = s.execute(select(Asset.asset_id, Asset.file_name).where(Asset.live))
            return dict(rows.all())

    def paths(self, asset_id: str) -> list[str]:
        with self.catalog.reading() as s:
            rows = s.scalars(
                select(SourcePath.path).where(
                    SourcePath.asset_id == asset_id, SourcePath.state == "present"
                )
            )
            return sorted(rows)

    def table(self, name: str) -> pl.DataFrame:
        return TableStore(self.settings.tables).read(name)

    def index_rows(self) -> dict[str, pl.DataFrame]:
        """space -> (segment_id, asset_id, file_name) of every index row."""
        index = IndexReader(self.settings.lancedb)
        out = {}
        for space in index.spaces():
            rows = index.table(space).to_arrow().select(["segment_id", "asset_id", "file_name"])
            out[space] = pl.from_arrow(rows)
        return out

    def rows_of(self, asset_id: str) -> dict[str, int]:
        """Rows of a content in every Parquet table (relationships by source id)."""
        out = {}
        for name in TABLES:
            df = self.table(name)
            column = "source_id" if name == "relationships" else "asset_id"
            out[name] = (
                df.filter(pl.col(column).str.starts_with(asset_id)).height if df.height else 0
            )
        return out

    def search(self, query: str, limit: int = 10, **body) -> list[dict]:
        from dataflux_pipeline.serving.schemas import SearchRequest
        from dataflux_pipeline.serving.search import Searcher

        if self._searcher is None:
            self._searcher = Searcher(self.settings)
        req = SearchRequest(query=query, limit=limit, **body)
        return self._searcher.search(req).model_dump()["results"]


@contextlib.contextmanager
def home_at(root: Path, **overrides) -> Iterator[Home]:
    home = Home(root, **overrides)
    try:
        yield home
    finally:
        home.close()
