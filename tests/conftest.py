from __future__ import annotations

from pathlib import Path

import pytest

from dataflux_pipeline.settings import Settings

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "data", settle_seconds=0.0, batch_size=64)


@pytest.fixture
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"shared fixtures not found at {FIXTURES}")
    return FIXTURES


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory) -> Path:
    """A random-weight CLIP built from a config, saved the way a real model folder is."""
    from dataflux_pipeline.models.scaffold import random_clip

    return random_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="session", autouse=True)
def definitions_resolved() -> None:
    """Build the repository once, before any test instance exists: Dagster caches the
    load context of the first build with a weak reference to the instance current then,
    and a build after that test instance closed would fail on the dead reference."""
    from dataflux_pipeline.definitions import defs

    defs.get_repository_def()
