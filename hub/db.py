"""Database engine of the hub: its tables on SQLite (default) or PostgreSQL (ocpi.persistence)."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from hub import records  # noqa: F401 - registers the tables on SQLModel.metadata
from ocpi import persistence
from ocpi.persistence import normalise_url

__all__ = ["make_engine", "normalise_url"]


def make_engine(url: str) -> Engine:
    """An engine with the hub's tables created."""
    return persistence.make_engine(url, SQLModel.metadata)
