"""The mock eMSP configured with `version = "2.1.1"` or `"2.3.0"` against the hub double of
that version (tests/doubles/hub_versions.py): the set-up tests/emsp_mock/test_v211.py,
test_v230.py and test_versions.py share, and the objects of each version they push."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx
from fastapi import FastAPI

from emsp_mock.app import create_app
from emsp_mock.service import Emsp
from ocpi.headers import PartyRef
from ocpi.translate import v211 as to211
from ocpi.v221 import Token
from ocpi.v221.versions import InterfaceRole, ModuleID
from tests.cpo_mock.conftest import location
from tests.doubles.hub_versions import HubDouble
from tests.emsp_mock.conftest import emsp_settings
from tests.network import Network

CPO = PartyRef("DE", "CPB")
H = TypeVar("H", bound=HubDouble[Any])


@dataclass
class Setup(Generic[H]):
    network: Network
    hub: H
    emsp: Emsp
    asgi: FastAPI

    async def settle(self) -> None:
        for _ in range(4):
            await self.emsp.drain()
            await asyncio.sleep(0)

    async def app(self, method: str, path: str, body: Any = None) -> httpx.Response:
        async with self.network.client() as client:
            return await client.request(method, f"http://emsp.test/app{path}", json=body)

    def url(self, module: str | ModuleID, *segments: str) -> str:
        """The eMSP's URL of `module` the hub pushes to (its Receiver where roles exist)."""
        base = self.hub.member_url(module, InterfaceRole.RECEIVER)
        return "/".join([base, *segments])

    def token(self, uid: str) -> Token:
        [found] = [t for t in self.emsp.state.tokens.values() if t.uid == uid]
        return found


@asynccontextmanager
async def started(tmp_path: Path, network: Network, hub: H) -> AsyncIterator[Setup[H]]:
    """The eMSP on the hub's version, registered with `hub` (on `network`) and settled."""
    network.add(hub.spec.base.removeprefix("http://"), hub.app)
    settings = emsp_settings(
        tmp_path,
        hub.token_a,
        version=hub.spec.number,
        hub={"versions_url": f"{hub.spec.base}/ocpi/versions", "token_a": hub.token_a},
    )
    app = create_app(settings, http=network.client())
    network.add("emsp.test", app)
    emsp: Emsp = app.state.emsp
    await emsp.start()
    ready = Setup(network, hub, emsp, app)
    await ready.settle()
    try:
        yield ready
    finally:
        await emsp.stop()


def location_211(id: str = "LOC9") -> dict[str, Any]:
    return to211.location_to_v211(location(id)).value.to_json()


def location_230(id: str = "LOC9") -> dict[str, Any]:
    """A 2.3.0 Location using what 2.3.0 added: parking places, EVSE parking, a help phone,
    connector capabilities, and an EVSE whose only connector is MCS (2.2.1 has no MCS)."""
    data = location(id).to_json()
    data["help_phone"] = "+31201234567"
    data["parking_places"] = [
        {
            "id": "P1",
            "vehicle_types": ["PERSONAL_VEHICLE"],
            "restricted_to_type": False,
            "reservation_required": False,
        }
    ]
    data["evses"][0]["parking"] = [{"parking_id": "P1"}]
    data["evses"][0]["connectors"][0]["capabilities"] = ["ISO_15118_2_PLUG_AND_CHARGE"]
    mcs = {**data["evses"][0], "uid": "MCS1", "evse_id": "DE*CPB*EMCS1", "parking": []}
    mcs["connectors"] = [{**data["evses"][0]["connectors"][0], "standard": "MCS"}]
    data["evses"].append(mcs)
    return data
