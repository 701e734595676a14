"""Shared fixtures: where the spec's example files live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.databases import database_url  # noqa: F401 - shared fixture (SQLite and PostgreSQL)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = Path(
    os.environ.get("OCPI_EXAMPLES_DIR", ROOT.parent / "shared" / "ocpi" / "examples")
)


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    """The spec's own example files (../shared/ocpi/examples), read in place, never copied."""
    if not EXAMPLES_DIR.is_dir():
        pytest.skip(
            f"the OCPI spec examples are not at {EXAMPLES_DIR}; "
            "set OCPI_EXAMPLES_DIR to the folder holding them"
        )
    return EXAMPLES_DIR
