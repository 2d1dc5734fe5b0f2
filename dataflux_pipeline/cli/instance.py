"""The Dagster instance the CLI works on: `$DAGSTER_HOME`, defaulting to
`<DATAFLUX_HOME>/dagster` (SQLite), with telemetry and the first-visit dialog off.

The local settings are copied once and then belong to the user, so a home made by an
older version keeps its settings; what a newer version's copy has and theirs lacks is
named at start-up rather than merged in behind their back."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import dagster as dg
import yaml

from dataflux_pipeline.settings import Settings

log = logging.getLogger(__name__)
LOCAL_INSTANCE_YAML = Path(__file__).with_name("dagster.yaml")


def missing_sections(path: Path) -> list[str]:
    """Top-level sections of the shipped local settings that the file at `path` lacks.
    Only for a local instance (Dagster's default SQLite storage, as the local copy has):
    one that names its storage (deploy/dagster.yaml, PostgreSQL) is configured otherwise
    on purpose and must not be pointed at the local launcher."""
    shipped = yaml.safe_load(LOCAL_INSTANCE_YAML.read_text()) or {}
    try:
        present = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return []  # Dagster itself says what is wrong with a file it cannot read
    if not isinstance(present, dict) or "storage" in present:
        return []
    return [key for key in shipped if key not in present]


def prepare_dagster_home(settings: Settings) -> Path:
    """DAGSTER_HOME, created with the local instance settings if it has none yet."""
    if not os.environ.get("DAGSTER_HOME"):  # unset or empty
        os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists():
        shutil.copyfile(LOCAL_INSTANCE_YAML, target)
    elif missing := missing_sections(target):
        log.warning(
            "%s lacks %s, which this version's local settings have (%s): copy them in to use them",
            target,
            ", ".join(missing),
            LOCAL_INSTANCE_YAML,
        )
    return home


def dagster_instance(settings: Settings) -> dg.DagsterInstance:
    prepare_dagster_home(settings)
    return dg.DagsterInstance.get()
