"""The in-process federation the hub tests share: the hub between two members it did not
write (tests/doubles), all in one event loop on the `Network` transport."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from hub.app import create_app
from hub.service import Hub
from ocpi.v221 import Role
from tests.doubles import factories as f
from tests.doubles.member import Member, MemberConfig
from tests.hub.conftest import hub_settings, invite
from tests.network import Network

CPO, EMSP = f.CPO, f.EMSP


@dataclass
class Federation:
    network: Network
    app: FastAPI
    hub: Hub
    cpo: Member
    emsp: Member
    tmp_path: Path

    async def settle(self) -> None:
        """Let background work (fan-out, ClientInfo pushes, command results) finish."""
        for _ in range(3):
            await self.hub.drain()
            await self.cpo.drain()
            await self.emsp.drain()
            await asyncio.sleep(0)

    async def admin(self, path: str, **params: str) -> Any:
        async with self.network.client() as client:
            response = await client.get(
                f"http://hub.test/admin/{path}",
                params=params,
                headers={"Authorization": "Bearer admin-secret"},
            )
        body = response.json()
        assert body["status_code"] == 1000, body
        return body["data"]


async def start_hub(tmp_path: Path, network: Network, **overrides: object) -> tuple[FastAPI, Hub]:
    app = create_app(hub_settings(tmp_path, **overrides), http=network.client())
    hub: Hub = app.state.hub
    await hub.start()
    network.add("hub.test", app)
    return app, hub


@contextlib.asynccontextmanager
async def federation(tmp_path: Path, **overrides: object) -> AsyncIterator[Federation]:
    """The hub with one CPO and one eMSP registered; `overrides` are hub settings."""
    network = Network()
    app, hub = await start_hub(tmp_path, network, **{"forward_timeout": 0.5, **overrides})
    cpo = Member(MemberConfig(Role.CPO, CPO, base_url="http://cpo.test"), http=network.client())
    emsp = Member(MemberConfig(Role.EMSP, EMSP, base_url="http://emsp.test"), http=network.client())
    network.add("cpo.test", cpo.app)
    network.add("emsp.test", emsp.app)
    await cpo.register("http://hub.test/ocpi/versions", invite(hub, (Role.CPO, CPO)))
    await emsp.register("http://hub.test/ocpi/versions", invite(hub, (Role.EMSP, EMSP)))
    started = Federation(network, app, hub, cpo, emsp, tmp_path)
    await started.settle()
    try:
        yield started
    finally:
        await cpo.close()
        await emsp.close()
        await started.hub.stop()
