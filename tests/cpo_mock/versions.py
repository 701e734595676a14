"""The mock CPO configured with `version = "2.1.1"` or `"2.3.0"` against the hub double of
that version (tests/doubles/hub_versions.py): the set-up tests/cpo_mock/test_v211.py,
test_v230.py and test_versions.py share."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Generic, TypeVar

from cpo_mock.app import create_app
from cpo_mock.service import Cpo
from ocpi import v230
from ocpi.v221 import Price
from tests.cpo_mock.conftest import cpo_settings, tariff
from tests.doubles.hub_versions import HubDouble
from tests.network import Network

H = TypeVar("H", bound=HubDouble[Any])
EMSP_ROLE = v230.CredentialsRole(
    role=v230.Role.EMSP,
    business_details=v230.BusinessDetails(name="Volt App"),
    country_code="NL",
    party_id="EMA",
)
"""The eMSP a 2.3.0 hub double names reachable."""


@dataclass
class Setup(Generic[H]):
    network: Network
    hub: H
    cpo: Cpo

    async def settle(self) -> None:
        for _ in range(4):
            await self.cpo.drain()
            await asyncio.sleep(0)

    async def step(self, seconds: float) -> None:
        await self.cpo.step(seconds)
        await self.settle()


def priced_tariff() -> dict[str, Any]:
    """The conftest tariff with a minimum price, as 2.2.1 gives it (excl_vat, incl_vat)."""
    data = tariff().to_json()
    data["min_price"] = Price(excl_vat=Decimal("2.00"), incl_vat=Decimal("2.38")).to_json()
    return data


@asynccontextmanager
async def started(
    tmp_path: Path, network: Network, hub: H, tariffs: list[dict[str, Any]]
) -> AsyncIterator[Setup[H]]:
    """The CPO on the hub's version (auto plug, one item a page), registered with `hub` (on
    `network`) and settled."""
    network.add(hub.spec.base.removeprefix("http://"), hub.app)
    settings = cpo_settings(
        tmp_path,
        hub.token_a,
        version=hub.spec.number,
        hub={"versions_url": f"{hub.spec.base}/ocpi/versions", "token_a": hub.token_a},
        simulation={"auto_plug": True, "session_update_interval": 300},
        tariffs=tariffs,
        page_limit=1,
    )
    app = create_app(settings, http=network.client())
    network.add("cpo.test", app)
    cpo: Cpo = app.state.cpo
    await cpo.start()
    ready = Setup(network, hub, cpo)
    await ready.settle()
    try:
        yield ready
    finally:
        await cpo.stop()
