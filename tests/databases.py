"""A `database_url` fixture that runs a test on SQLite and on PostgreSQL.

PostgreSQL runs when ROAM_TEST_POSTGRES_URL names a server (.ci/run sets it); each test
creates and drops a database of its own, so a server that outlives test runs and is not empty
does no harm. Without the variable the PostgreSQL case skips, saying so.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


def postgres_database() -> Iterator[str]:
    server = os.environ.get("ROAM_TEST_POSTGRES_URL")
    if not server:
        pytest.skip("ROAM_TEST_POSTGRES_URL is not set: PostgreSQL store tests skipped")
    import psycopg

    name = f"roam_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = server.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test on a fresh SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        yield from postgres_database()
