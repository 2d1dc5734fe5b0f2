"""Transient failures are retried with backoff; permanent ones fail at once."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from dataflux_pipeline.defs.assets.analysis import analysis
from dataflux_pipeline.defs.assets.embeddings import embeddings
from dataflux_pipeline.defs.assets.intake import intake
from dataflux_pipeline.defs.resources import EmbeddingModels, resources_for
from dataflux_pipeline.defs.sensors.sources import sources_sensor
from dataflux_pipeline.settings import Settings
from dataflux_pipeline.storage.tables import TableStore

pytestmark = pytest.mark.slow


class FlakyModels(EmbeddingModels):
    """Fails to load the text model on the first `failures` calls, like a flaky mount."""

    counter: str
    failures: int = 1

    def setup_for_execution(self, context) -> None:
        """No warm-up thread: the failure under test is the embeddings step's own load."""

    def text(self):
        path = Path(self.counter)
        calls = int(path.read_text() or 0) if path.exists() else 0
        path.write_text(str(calls + 1))
        if calls < self.failures:
            raise OSError("model store timed out")
        return super().text()


def materialize(settings: Settings, models: EmbeddingModels) -> dg.ExecuteInProcessResult:
    settings.landing.mkdir(parents=True)
    (settings.landing / "note.txt").write_text("Retries should make this sentence searchable.")
    with dg.instance_for_test() as instance:
        tick = sources_sensor(
            dg.build_sensor_context(instance=instance, resources=resources_for(settings))
        )
        for req in tick.dynamic_partitions_requests:
            instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
        (request,) = tick.run_requests
        return dg.materialize(
            [intake, analysis, embeddings],
            partition_key=request.partition_key,
            instance=instance,
            resources=resources_for(settings) | {"models": models},
            raise_on_error=False,
        )


def retries(result: dg.ExecuteInProcessResult, step: str) -> int:
    return sum(
        1
        for e in result.all_events
        if e.step_key == step and e.event_type_value == "STEP_UP_FOR_RETRY"
    )


def test_transient_model_load_error_is_retried(settings, tmp_path: Path) -> None:
    models = FlakyModels(text_model=settings.text_model, counter=str(tmp_path / "calls"))
    result = materialize(settings, models)
    assert result.success
    assert retries(result, "embeddings") == 1
    assert TableStore(settings.tables).read("embeddings").height == 1


def test_missing_model_fails_without_retrying(settings, tmp_path: Path) -> None:
    models = EmbeddingModels(text_model=str(tmp_path / "nowhere"))
    result = materialize(settings, models)
    assert not result.success
    assert retries(result, "embeddings") == 0
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "text model" in failure.event_specific_data.error.message
