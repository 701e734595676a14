"""A federation for the mock eMSP: the hub, the real mock CPO (stepped clock, so every price is
exact) and the eMSP under test, all in one event loop (tests/network.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from cpo_mock.app import create_app as create_cpo
from cpo_mock.service import Cpo
from emsp_mock.app import create_app
from emsp_mock.service import Emsp
from emsp_mock.settings import EmspSettings
from hub.app import create_app as create_hub
from hub.service import Hub
from ocpi.headers import PartyRef
from ocpi.v221 import Role
from tests.cpo_mock.conftest import CPO, cpo_settings
from tests.hub.conftest import hub_settings, invite
from tests.network import Network

EMSP = PartyRef("NL", "EMA")
DRIVERS: list[dict[str, Any]] = [
    {
        "id": "alice",
        "name": "Alice",
        "tokens": [
            {"uid": "app-alice", "type": "APP_USER", "contract_id": "NL-EMA-C00000001-A"},
            {
                "uid": "04A1B2C3",
                "type": "RFID",
                "contract_id": "NL-EMA-C00000001-A",
                "visual_number": "EMA 0001",
            },
        ],
    },
    {
        "id": "bob",
        "name": "Bob",
        "tokens": [
            {
                "uid": "04B0B0B0",
                "type": "RFID",
                "contract_id": "NL-EMA-C00000002-B",
                "valid": False,
                "allowed": "NO_CREDIT",
            },
            {
                "uid": "04DEAD00",
                "type": "RFID",
                "contract_id": "NL-EMA-C00000003-B",
                "valid": False,
            },
        ],
    },
]


def emsp_settings(tmp_path: Path, token_a: str | None, **overrides: Any) -> EmspSettings:
    values: dict[str, Any] = {
        "country_code": "NL",
        "party_id": "EMA",
        "name": "Volt App",
        "base_url": "http://emsp.test",
        "database_url": f"sqlite:///{tmp_path / 'emsp.db'}",
        "hub": {"versions_url": "http://hub.test/ocpi/versions", "token_a": token_a},
        "page_limit": 2,
        "command_timeout": 5.0,
        "drivers": DRIVERS,
    }
    values.update(overrides)
    return EmspSettings.model_validate(values)


@dataclass
class Federation:
    network: Network
    hub: Hub
    cpo_app: FastAPI
    emsp_app: FastAPI
    tmp_path: Path
    settings: EmspSettings

    @property
    def cpo(self) -> Cpo:
        cpo: Cpo = self.cpo_app.state.cpo
        return cpo

    @property
    def emsp(self) -> Emsp:
        emsp: Emsp = self.emsp_app.state.emsp
        return emsp

    async def settle(self) -> None:
        """Let every queued push, result and fan-out finish."""
        for _ in range(4):
            for platform in (self.cpo, self.hub, self.emsp):
                await platform.drain()
            await asyncio.sleep(0)

    async def step(self, seconds: float) -> None:
        await self.cpo.step(seconds)
        await self.settle()

    async def app(self, method: str, path: str, body: Any = None) -> httpx.Response:
        async with self.network.client() as client:
            return await client.request(method, f"http://emsp.test/app{path}", json=body)

    async def control(self, method: str, path: str, body: Any = None) -> httpx.Response:
        async with self.network.client() as client:
            return await client.request(method, f"http://cpo.test/control{path}", json=body)

    async def restart_emsp(self) -> None:
        """Stop the eMSP process and start a new one on the same database."""
        await self.emsp.stop()
        self.emsp_app = create_app(self.settings, http=self.network.client())
        self.network.add("emsp.test", self.emsp_app)
        await self.emsp.start()
        await self.settle()


async def start_federation(tmp_path: Path, **overrides: Any) -> Federation:
    network = Network()
    hub_app = create_hub(hub_settings(tmp_path, forward_timeout=5.0), http=network.client())
    hub: Hub = hub_app.state.hub
    await hub.start()
    network.add("hub.test", hub_app)
    settings = emsp_settings(tmp_path, invite(hub, (Role.EMSP, EMSP)), **overrides)
    emsp_app = create_app(settings, http=network.client())
    network.add("emsp.test", emsp_app)
    await emsp_app.state.emsp.start()
    cpo_app = create_cpo(
        cpo_settings(tmp_path, invite(hub, (Role.CPO, CPO))), http=network.client()
    )
    network.add("cpo.test", cpo_app)
    federation = Federation(network, hub, cpo_app, emsp_app, tmp_path, settings)
    await federation.cpo.start()
    await federation.settle()
    return federation


@pytest.fixture
async def fed(tmp_path: Path) -> AsyncIterator[Federation]:
    federation = await start_federation(tmp_path)
    try:
        yield federation
    finally:
        await federation.emsp.stop()
        await federation.cpo.stop()
        await federation.hub.stop()
