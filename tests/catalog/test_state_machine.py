"""A bounded number of random sequences in CI; bench/lifecycle.py runs many more."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, settings

from tests.catalog.machine import CatalogMachine

pytestmark = pytest.mark.slow

SEQUENCES = int(os.environ.get("DATAFLUX_TEST_SEQUENCES", "3"))

TestCatalogMachine = CatalogMachine.TestCase
TestCatalogMachine.settings = settings(
    max_examples=SEQUENCES,
    stateful_step_count=8,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    derandomize=os.environ.get("CI") is not None,
)
