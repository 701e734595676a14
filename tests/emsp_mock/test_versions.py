"""What the mock eMSP does alike on 2.1.1 and 2.3.0, against the hub double of each version
(tests/emsp_mock/versions.py): its commands go out in the version with a response_url of the
version that takes the result, and a version it does not speak is a config error. What only
one version has is in test_v211.py and test_v230.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from emsp_mock.settings import ConfigError, load_config
from ocpi import v211, v230
from ocpi.translate import v211 as to211
from ocpi.translate.v230 import session_to_v230
from ocpi.v221 import Session, TokenType
from ocpi.v221.versions import InterfaceRole, ModuleID
from tests.cpo_mock.conftest import location
from tests.doubles import factories as f
from tests.doubles.hub211 import Hub211
from tests.doubles.hub230 import Hub230
from tests.doubles.hub_versions import HubDouble
from tests.emsp_mock.versions import CPO, Setup, location_211, location_230, started
from tests.network import Network


@dataclass(frozen=True)
class Version:
    """What the tests put in and expect on one version."""

    number: str
    unknown: str
    """A version it does not speak, close to this one."""
    hub: Callable[[httpx.AsyncClient], HubDouble[Any]]
    location: Callable[[], dict[str, Any]]
    session: Callable[[Session], dict[str, Any]]
    start: type[v211.StartSession] | type[v230.StartSession]
    stop: type[v211.StopSession] | type[v230.StopSession]
    contract: str
    """The name of a token's contract id (2.1.1: auth_id)."""


CPO_ROLE = v230.CredentialsRole(
    role=v230.Role.CPO,
    business_details=v230.BusinessDetails(name="Spark Test"),
    country_code="DE",
    party_id="CPB",
)
VERSIONS = [
    Version(
        "2.1.1",
        "2.1",
        hub=lambda http: Hub211(http, member_role="EMSP"),
        location=location_211,
        session=lambda s: to211.session_to_v211(s, location=location("LOC9")).value.to_json(),
        start=v211.StartSession,
        stop=v211.StopSession,
        contract="auth_id",
    ),
    Version(
        "2.3.0",
        "9.9",
        hub=lambda http: Hub230(http, reachable=[CPO_ROLE]),
        location=location_230,
        session=lambda s: session_to_v230(s).value.to_json(),
        start=v230.StartSession,
        stop=v230.StopSession,
        contract="contract_id",
    ),
]


pytestmark = pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.number)


@pytest.fixture
async def setup(tmp_path: Path, version: Version) -> AsyncIterator[Setup[HubDouble[Any]]]:
    network = Network()
    async with started(tmp_path, network, version.hub(network.client())) as ready:
        yield ready


async def test_start_session_goes_out_in_its_version_and_takes_the_result(
    setup: Setup[HubDouble[Any]], version: Version
) -> None:
    hub = setup.hub
    await hub.call("PUT", setup.url(ModuleID.LOCATIONS, "DE", "CPB", "LOC9"), version.location())
    asked = {"country_code": "DE", "party_id": "CPB", "location_id": "LOC9", "evse_uid": "DC1"}
    started = (await setup.app("POST", "/drivers/alice/start", asked)).json()
    await setup.settle()
    [sent] = hub.bodies("commands")
    assert sent.segments == ["START_SESSION"]
    command = sent.parsed
    assert isinstance(command, version.start)
    assert getattr(command.token, version.contract) == "NL-EMA-C00000001-A"
    # Its response_url is one of the eMSP's URLs of its version.
    commands_url = hub.member_url(ModuleID.COMMANDS, InterfaceRole.SENDER)
    assert command.response_url.startswith(commands_url + "/START_SESSION/")
    # The hub's answer (on 2.1.1 a bare "ACCEPTED") is the eMSP's CommandResponse.
    assert (await setup.app("GET", f"/commands/{started['id']}")).json()["response"] == "ACCEPTED"

    await hub.call("POST", command.response_url, {"result": "ACCEPTED"}, sender=CPO)
    state = (await setup.app("GET", f"/commands/{started['id']}")).json()
    assert state["result"] == "ACCEPTED"
    assert hub.refused == []


async def test_stop_session_names_a_response_url_of_its_version_that_takes_the_result(
    setup: Setup[HubDouble[Any]], version: Version
) -> None:
    """The StopSession's response_url is the eMSP's URL of its version, not its core's 2.2.1
    path (which the edge does not serve: the CPO's result was lost, found by the
    mixed-version demo). On 2.3.0 StopSession did not change and passes untranslated."""
    hub = setup.hub
    alice = setup.token("04A1B2C3")
    await hub.call("PUT", setup.url(ModuleID.LOCATIONS, "DE", "CPB", "LOC9"), version.location())
    session = f.session("S9", party=CPO, of_token=alice, location_id="LOC9", evse_uid="DC1")
    sessions = setup.url(ModuleID.SESSIONS, "DE", "CPB", "S9")
    await hub.call("PUT", sessions, version.session(session), sender=CPO)
    stopped = (await setup.app("POST", "/drivers/alice/stop", {"session_id": "S9"})).json()
    await setup.settle()
    [sent] = hub.bodies("commands")
    assert sent.segments == ["STOP_SESSION"]
    command = sent.parsed
    assert isinstance(command, version.stop)
    commands_url = hub.member_url(ModuleID.COMMANDS, InterfaceRole.SENDER)
    assert command.response_url.startswith(commands_url + "/STOP_SESSION/")
    await hub.call("POST", command.response_url, {"result": "ACCEPTED"}, sender=CPO)
    state = (await setup.app("GET", f"/commands/{stopped['id']}")).json()
    assert state["result"] == "ACCEPTED"
    assert hub.refused == []


def test_a_version_it_does_not_speak_is_a_config_error(tmp_path: Path, version: Version) -> None:
    number, unknown = version.number, version.unknown
    config = tmp_path / "emsp.toml"
    config.write_text(f'[emsp]\nversion = "{unknown}"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_config(config)
    message = str(refused.value)
    assert "version" in message and f"'{unknown}'" in message and "2.1.1, 2.2.1, 2.3.0" in message
    config.write_text(f'[emsp]\nversion = "{number}"\n', encoding="utf-8")
    assert load_config(config).version == number
    assert TokenType.RFID.value == "RFID"
