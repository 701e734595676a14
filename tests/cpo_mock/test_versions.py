"""What the mock CPO does alike on 2.1.1 and 2.3.0, against the hub double of each version
(tests/cpo_mock/versions.py): it serves pages of objects of the version with Link headers, not
its core's 2.2.1 paths, and a version it does not speak is a config error. What only one
version has is in test_v211.py and test_v230.py."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from cpo_mock.settings import ConfigError, load_config
from ocpi import v211, v230
from ocpi.errors import NotFound
from ocpi.pagination import parse_link_header
from ocpi.v221.versions import InterfaceRole, ModuleID
from tests.cpo_mock.conftest import tariff
from tests.cpo_mock.versions import EMSP_ROLE, Setup, priced_tariff, started
from tests.doubles.hub211 import Hub211
from tests.doubles.hub230 import Hub230
from tests.doubles.hub_versions import HubDouble
from tests.network import Network


@dataclass(frozen=True)
class Version:
    """What the tests put in and expect on one version."""

    number: str
    unknown: str
    """A version it does not speak, close to this one."""
    hub: Callable[[httpx.AsyncClient], HubDouble[Any]]
    tariff: Callable[[], dict[str, Any]]
    models: ModuleType
    served_tariff: dict[str, Any] = field(default_factory=dict)
    """Fields the CPO's Tariff T1 is served with, as JSON."""


VERSIONS = [
    Version(
        "2.1.1",
        "2.0",
        hub=lambda http: Hub211(http, member_role="CPO"),
        tariff=lambda: tariff().to_json(),
        models=v211,
    ),
    Version(
        "2.3.0",
        "9.9",
        hub=lambda http: Hub230(http, reachable=[EMSP_ROLE]),
        tariff=priced_tariff,
        models=v230,
        # 2.2.1 prices exclude VAT: the 2.3.0 Tariff says so, and limits are PriceLimits.
        served_tariff={
            "tax_included": "NO",
            "min_price": {"before_taxes": 2.0, "after_taxes": 2.38},
        },
    ),
]


pytestmark = pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.number)


@pytest.fixture
async def setup(tmp_path: Path, version: Version) -> AsyncIterator[Setup[HubDouble[Any]]]:
    network = Network()
    hub = version.hub(network.client())
    async with started(tmp_path, network, hub, [version.tariff()]) as ready:
        yield ready


async def test_serves_pages_of_its_version_with_link_headers(
    setup: Setup[HubDouble[Any]], version: Version
) -> None:
    hub, models = setup.hub, version.models
    url = hub.member_url(ModuleID.LOCATIONS, InterfaceRole.SENDER)
    page = await hub.call("GET", url)
    [first] = [models.Location.model_validate(item) for item in page.data]
    following = parse_link_header(page.headers.get("Link"))
    assert following is not None and following.startswith(url + "?")
    [second] = (await hub.call("GET", following)).data
    assert {first.id, models.Location.model_validate(second).id} == {"LOC1", "LOC2"}

    evse = (await hub.call("GET", f"{url}/LOC1/DC1")).data
    assert models.EVSE.model_validate(evse).uid == "DC1"

    tariffs = (await hub.call("GET", hub.member_url(ModuleID.TARIFFS, InterfaceRole.SENDER))).data
    [served] = [models.Tariff.model_validate(item) for item in tariffs]
    assert served.id == "T1"
    assert {key: tariffs[0].get(key) for key in version.served_tariff} == version.served_tariff
    assert hub.refused == []


async def test_its_2_2_1_paths_are_not_served(
    setup: Setup[HubDouble[Any]], version: Version
) -> None:
    with pytest.raises(NotFound, match=rf"speaks OCPI {re.escape(version.number)}"):
        await setup.hub.call("GET", "http://cpo.test/ocpi/cpo/2.2.1/locations")


def test_a_version_it_does_not_speak_is_a_config_error(tmp_path: Path, version: Version) -> None:
    number, unknown = version.number, version.unknown
    config = tmp_path / "cpo.toml"
    config.write_text(f'[cpo]\nversion = "{unknown}"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_config(config)
    message = str(refused.value)
    assert "version" in message and f"'{unknown}'" in message
    assert "2.1.1, 2.2.1, 2.3.0" in message
    config.write_text(f'[cpo]\nversion = "{number}"\n', encoding="utf-8")
    assert load_config(config).version == number
    config.write_text("[cpo]\n", encoding="utf-8")
    assert load_config(config).version == "2.2.1"
