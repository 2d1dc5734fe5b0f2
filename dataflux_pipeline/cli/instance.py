"""The Dagster instance the CLI works on: `$DAGSTER_HOME`, defaulting to
`<DATAFLUX_HOME>/dagster` (SQLite), with telemetry and the first-visit dialog off."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg

from dataflux_pipeline.settings import Settings

LOCAL_INSTANCE_YAML = Path(__file__).with_name("dagster.yaml")


def prepare_dagster_home(settings: Settings) -> Path:
    """DAGSTER_HOME, created with the local instance settings if it has none yet."""
    if not os.environ.get("DAGSTER_HOME"):  # unset or empty
        os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists():
        shutil.copyfile(LOCAL_INSTANCE_YAML, target)
    return home


def dagster_instance(settings: Settings) -> dg.DagsterInstance:
    prepare_dagster_home(settings)
    return dg.DagsterInstance.get()
