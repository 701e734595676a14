"""Fixtures for hub tests: a hub app on a fresh SQLite file, started and stopped around a test."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from hub.app import create_app
from hub.service import Hub
from hub.settings import HubSettings
from ocpi.headers import PartyRef
from ocpi.v221.types import Role


def hub_settings(tmp_path: Path, **overrides: object) -> HubSettings:
    values: dict[str, object] = {
        "base_url": "http://hub.test",
        "database_url": f"sqlite:///{tmp_path / 'hub.db'}",
        "admin_token": "admin-secret",
        "still_alive_interval": 3600,
        "log_flush_interval": 0.01,
    }
    values.update(overrides)
    return HubSettings.model_validate(values)


def invite(hub: Hub, *parties: tuple[Role, PartyRef]) -> str:
    """A token A from the hub, as `POST /admin/invitations` makes it."""
    return hub.invite_blocking(parties).token


@contextlib.asynccontextmanager
async def running_hub(
    tmp_path: Path, **overrides: object
) -> AsyncIterator[tuple[Hub, httpx.AsyncClient]]:
    """A started hub (its own outbound HTTP) and a client that calls it in-process."""
    app = create_app(hub_settings(tmp_path, **overrides))
    hub: Hub = app.state.hub
    await hub.start()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://hub.test"
        ) as client:
            yield hub, client
    finally:
        await hub.stop()


@pytest.fixture
async def hub_client(tmp_path: Path) -> AsyncIterator[tuple[Hub, httpx.AsyncClient]]:
    async with running_hub(tmp_path) as started:
        yield started
