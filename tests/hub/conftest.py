"""Fixtures for hub tests: a hub app on a fresh SQLite file, started and stopped around a test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from hub.app import create_app
from hub.directory import hash_token
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
    token = f"token-a-{len(hub.store.load_platforms())}-{id(parties)}"
    hub.store.add_invitation(hash_token(token), list(parties))
    return token


@pytest.fixture
async def hub_client(tmp_path: Path) -> AsyncIterator[tuple[Hub, httpx.AsyncClient]]:
    app = create_app(hub_settings(tmp_path))
    hub: Hub = app.state.hub
    await hub.start()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://hub.test"
        ) as client:
            yield hub, client
    finally:
        await hub.stop()
