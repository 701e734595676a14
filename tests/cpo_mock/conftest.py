"""A federation for the mock CPO: the hub, the CPO under test and an eMSP test double, all in
one event loop (tests/network.py), with a stepped clock so that every result is exact."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from cpo_mock.app import create_app
from cpo_mock.service import Cpo
from cpo_mock.settings import CpoSettings
from hub.app import create_app as create_hub
from hub.service import Hub
from ocpi.headers import PartyRef
from ocpi.v221 import (
    EVSE,
    BusinessDetails,
    Capability,
    Connector,
    ConnectorFormat,
    ConnectorType,
    GeoLocation,
    Location,
    PowerType,
    PriceComponent,
    Role,
    Status,
    Tariff,
    TariffDimensionType,
    TariffElement,
)
from tests.doubles.member import Member, MemberConfig
from tests.hub.conftest import hub_settings, invite
from tests.network import Network

CPO = PartyRef("DE", "CPB")
EMSP = PartyRef("NL", "EMA")
T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
"""Monday 3 March 2025, 09:00 in Berlin: where the stepped clock starts."""
CAPABLE = [
    Capability.REMOTE_START_STOP_CAPABLE,
    Capability.RFID_READER,
    Capability.RESERVABLE,
    Capability.UNLOCK_CAPABLE,
    Capability.CHARGING_PROFILE_CAPABLE,
]


def tariff(id: str = "T1") -> Tariff:
    """1.00 start fee, 0.50/kWh, 6.00/h idle (step 60 s); VAT 19 %."""
    vat = Decimal(19)
    return Tariff(
        country_code="DE",
        party_id="CPB",
        id=id,
        currency="EUR",
        elements=[
            TariffElement(
                price_components=[
                    PriceComponent(
                        type=TariffDimensionType.FLAT, price=Decimal("1.00"), vat=vat, step_size=0
                    ),
                    PriceComponent(
                        type=TariffDimensionType.ENERGY, price=Decimal("0.50"), vat=vat, step_size=1
                    ),
                ]
            ),
            TariffElement(
                price_components=[
                    PriceComponent(
                        type=TariffDimensionType.PARKING_TIME,
                        price=Decimal("6.00"),
                        vat=vat,
                        step_size=60,
                    )
                ]
            ),
        ],
        last_updated=T0,
    )


def _evse(uid: str, dc: bool, capabilities: list[Capability]) -> EVSE:
    connector = Connector(
        id="1",
        standard=ConnectorType.IEC_62196_T2_COMBO if dc else ConnectorType.IEC_62196_T2,
        format=ConnectorFormat.CABLE if dc else ConnectorFormat.SOCKET,
        power_type=PowerType.DC if dc else PowerType.AC_3_PHASE,
        max_voltage=920 if dc else 230,
        max_amperage=200 if dc else 32,
        max_electric_power=150000 if dc else 22080,
        tariff_ids=["T1"],
        last_updated=T0,
    )
    return EVSE(
        uid=uid,
        evse_id=f"DE*CPB*E{uid}",
        status=Status.AVAILABLE,
        capabilities=capabilities,
        connectors=[connector],
        last_updated=T0,
    )


def location(id: str = "LOC1") -> Location:
    """DC1 (150 kW CCS), AC1 (22 kW), PLAIN (no remote start, no reservation, no unlock)."""
    return Location(
        country_code="DE",
        party_id="CPB",
        id=id,
        publish=True,
        name=f"Test park {id}",
        address="Hauptstrasse 1",
        city="Berlin",
        country="DEU",
        coordinates=GeoLocation(latitude="52.520008", longitude="13.404954"),
        evses=[
            _evse("DC1", True, CAPABLE),
            _evse("AC1", False, CAPABLE),
            _evse("PLAIN", False, [Capability.RFID_READER]),
        ],
        operator=BusinessDetails(name="Spark Test"),
        time_zone="Europe/Berlin",
        last_updated=T0,
    )


def cpo_settings(tmp_path: Path, token_a: str | None, **overrides: Any) -> CpoSettings:
    values: dict[str, Any] = {
        "country_code": "DE",
        "party_id": "CPB",
        "name": "Spark Test",
        "base_url": "http://cpo.test",
        "database_url": f"sqlite:///{tmp_path / 'cpo.db'}",
        "hub": {"versions_url": "http://hub.test/ocpi/versions", "token_a": token_a},
        "clock": {"mode": "stepped", "start": T0},
        "simulation": {"session_update_interval": 300, "charger_timeout": 20},
        "page_limit": 2,
        "tariffs": [tariff().to_json()],
        "locations": [location("LOC1").to_json(), location("LOC2").to_json()],
    }
    values.update(overrides)
    return CpoSettings.model_validate(values)


@dataclass
class Federation:
    network: Network
    hub: Hub
    cpo_app: FastAPI
    emsp: Member
    tmp_path: Path
    settings: CpoSettings

    @property
    def cpo(self) -> Cpo:
        cpo: Cpo = self.cpo_app.state.cpo
        return cpo

    async def settle(self) -> None:
        """Let every queued push, result and fan-out finish."""
        for _ in range(4):
            await self.cpo.drain()
            await self.hub.drain()
            await self.emsp.drain()
            await asyncio.sleep(0)

    async def step(self, seconds: float) -> None:
        await self.cpo.step(seconds)
        await self.settle()

    async def restart_cpo(self) -> None:
        """Stop the CPO process and start a new one on the same database."""
        await self.settle()
        await self.cpo.stop()
        self.cpo_app = create_app(self.settings, http=self.network.client())
        self.network.add("cpo.test", self.cpo_app)
        await self.cpo.start()

    async def control(self, method: str, path: str, body: Any = None) -> httpx.Response:
        async with self.network.client() as client:
            return await client.request(method, f"http://cpo.test/control{path}", json=body)


async def start_federation(tmp_path: Path, **overrides: Any) -> Federation:
    network = Network()
    hub_app = create_hub(hub_settings(tmp_path, forward_timeout=5.0), http=network.client())
    hub: Hub = hub_app.state.hub
    await hub.start()
    network.add("hub.test", hub_app)
    settings = cpo_settings(tmp_path, invite(hub, (Role.CPO, CPO)), **overrides)
    cpo_app = create_app(settings, http=network.client())
    network.add("cpo.test", cpo_app)
    emsp = Member(MemberConfig(Role.EMSP, EMSP, base_url="http://emsp.test"), http=network.client())
    network.add("emsp.test", emsp.app)
    await emsp.register("http://hub.test/ocpi/versions", invite(hub, (Role.EMSP, EMSP)))
    federation = Federation(network, hub, cpo_app, emsp, tmp_path, settings)
    await federation.cpo.start()
    await federation.settle()
    return federation


@pytest.fixture
async def fed(tmp_path: Path) -> AsyncIterator[Federation]:
    federation = await start_federation(tmp_path)
    try:
        yield federation
    finally:
        await federation.emsp.close()
        await federation.cpo.stop()
        await federation.hub.stop()
