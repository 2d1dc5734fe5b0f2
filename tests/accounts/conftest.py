from __future__ import annotations

import pytest

from dataflux_pipeline.db import Database
from tests.support.databases import app_database


@pytest.fixture(params=["sqlite", "postgres"])
def db(request, tmp_path) -> Database:
    """The same account rules on SQLite (the default) and PostgreSQL (production)."""
    with app_database(request.param, tmp_path) as url:
        database = Database(url)
        yield database
        database.dispose()
