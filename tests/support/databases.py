"""App databases for tests: SQLite in a temp folder, and a throwaway PostgreSQL database
on the local server (skipped without one, but a failure under CI, where it must run)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

POSTGRES = os.environ.get("DATAFLUX_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    import psycopg2

    try:
        admin = psycopg2.connect(POSTGRES, connect_timeout=3)
    except psycopg2.OperationalError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no PostgreSQL at {POSTGRES} (set DATAFLUX_TEST_POSTGRES_URL): {exc}")
    admin.autocommit = True
    name = f"dataflux_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    url = urlparse(POSTGRES)
    try:
        yield url._replace(scheme="postgresql+psycopg2", path=f"/{name}").geturl()
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


@contextlib.contextmanager
def app_database(kind: str, folder: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'app.db'}"
    else:
        with postgres_database() as url:
            yield url
