"""The mock CPO configured with `version = "2.1.1"` against a 2.1.1 hub double: it registers
the 2.1.1 way (one party, endpoints without roles), pushes and serves valid 2.1.1 objects
without routing headers, takes 2.1.1 tokens and commands, and answers in 2.1.1 status codes
(docs/versions.md, "Mock members on 2.1.1")."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ocpi import v211
from ocpi.errors import InvalidParameters, NotFound
from ocpi.v221 import TokenType
from ocpi.v221.versions import InterfaceRole, ModuleID
from tests.cpo_mock import versions
from tests.cpo_mock.conftest import tariff
from tests.doubles.hub211 import BASE, HUB, RESULTS, Hub211
from tests.network import Network

Setup = versions.Setup[Hub211]


def token_211(uid: str = "app-7f3a", contract: str = "NL-EMA-C00000001-A") -> dict[str, Any]:
    return {
        "uid": uid,
        "type": "OTHER",
        "auth_id": contract,
        "issuer": "Volt App",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": "2025-03-03T08:00:00Z",
    }


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    network = Network()
    hub = Hub211(network.client(), member_role="CPO")
    async with versions.started(tmp_path, network, hub, [tariff().to_json()]) as ready:
        yield ready


async def test_registers_with_2_1_1_credentials_and_details_without_roles(setup: Setup) -> None:
    hub, cpo = setup.hub, setup.cpo
    assert hub.refused == []
    theirs = hub.member_credentials
    assert theirs is not None
    assert (theirs.country_code, theirs.party_id) == ("DE", "CPB")
    # 2.1.1 endpoints have no role; modules 2.1.1 lacks (hubclientinfo, chargingprofiles)
    # are not published.
    endpoints = hub.member_details["endpoints"]
    assert all(set(endpoint) == {"identifier", "url"} for endpoint in endpoints)
    assert {e["identifier"] for e in endpoints} == {
        "credentials",
        "locations",
        "tariffs",
        "sessions",
        "cdrs",
        "tokens",
        "commands",
    }
    assert hub.member_url("locations") == "http://cpo.test/ocpi/cpo/2.1.1/locations"
    assert hub.member_url("credentials") == "http://cpo.test/ocpi/2.1.1/credentials"
    # The hub's one party is kept as the hub; its role-less endpoints as what a CPO calls.
    peer = cpo.registration.peer
    assert peer is not None and peer.hub_party == HUB and cpo.hub_party == HUB
    assert peer.endpoint(ModuleID.LOCATIONS, InterfaceRole.RECEIVER) == (
        f"{BASE}/ocpi/hub/2.1.1/receiver/locations"
    )
    assert peer.endpoint(ModuleID.TOKENS, InterfaceRole.SENDER) == (
        f"{BASE}/ocpi/hub/2.1.1/sender/tokens"
    )


async def test_pushes_locations_and_tariffs_as_2_1_1_without_routing_headers(
    setup: Setup,
) -> None:
    hub = setup.hub
    locations = hub.bodies("locations", "PUT")
    assert sorted(r.segments for r in locations) == [
        ["DE", "CPB", "LOC1"],
        ["DE", "CPB", "LOC2"],
    ]
    for pushed in locations:
        assert isinstance(pushed.parsed, v211.Location)
        # 2.1.1 Locations name no owner and have a `type`, not 2.2.1's parking_type.
        assert "country_code" not in pushed.body and "type" in pushed.body
    [pushed_tariff] = hub.bodies("tariffs", "PUT")
    assert isinstance(pushed_tariff.parsed, v211.Tariff)
    assert "country_code" not in pushed_tariff.body
    # The hub double notes every request that carries a routing header: none did.
    assert hub.refused == []


async def test_start_session_yields_2_1_1_answer_result_session_evse_patch_and_cdr(
    setup: Setup,
) -> None:
    hub, cpo = setup.hub, setup.cpo
    commands = hub.member_url("commands")
    start = {
        "response_url": f"{RESULTS}/start-1",
        "token": token_211(),
        "location_id": "LOC1",
        "evse_uid": "DC1",
    }
    answer = await hub.call("POST", f"{commands}/START_SESSION", start)
    # Spec 2.1.1 mod_commands §2.1.1: the answer is a bare CommandResponseType.
    assert answer.data == "ACCEPTED"
    await setup.step(60)
    [result] = hub.bodies("results")
    assert result.segments == ["start-1"]
    assert result.body == {"result": "ACCEPTED"}

    [session_put, *_] = hub.bodies("sessions", "PUT")
    session = session_put.parsed
    assert isinstance(session, v211.Session)
    assert session.auth_id == "NL-EMA-C00000001-A"
    # The Location is embedded, with only the EVSE and connector used.
    [evse] = session.location.evses or []
    assert session.location.id == "LOC1" and evse.uid == "DC1" and len(evse.connectors) == 1
    session_id = session.id
    # A second start at the busy EVSE: 2.2.1's EVSE_OCCUPIED is REJECTED in 2.1.1.
    again = {**start, "response_url": f"{RESULTS}/start-2"}
    assert (await hub.call("POST", f"{commands}/START_SESSION", again)).data == "ACCEPTED"
    await setup.settle()
    [refused_start] = [r for r in hub.bodies("results") if r.segments == ["start-2"]]
    assert refused_start.body == {"result": "REJECTED"}
    evse_patches = [r for r in hub.bodies("locations", "PATCH") if r.segments[3:] == ["DC1"]]
    assert evse_patches and all(isinstance(r.parsed, v211.EVSEPatch) for r in evse_patches)
    assert evse_patches[-1].body["status"] == "CHARGING"

    await setup.step(1800)
    stop = {"response_url": f"{RESULTS}/stop-1", "session_id": session_id}
    assert (await hub.call("POST", f"{commands}/STOP_SESSION", stop)).data == "ACCEPTED"
    await setup.step(60)
    await setup.step(60)

    [posted] = hub.bodies("cdrs", "POST")
    cdr = posted.parsed
    assert isinstance(cdr, v211.CDR)
    # 2.1.1 costs are numbers excluding VAT.
    assert isinstance(posted.body["total_cost"], int | float) and posted.body["total_cost"] > 0
    assert cdr.location.id == "LOC1" and cdr.auth_id == "NL-EMA-C00000001-A"
    patches = [r for r in hub.bodies("sessions", "PATCH") if "total_cost" in r.body]
    assert patches and all(isinstance(r.body["total_cost"], int | float) for r in patches)
    assert hub.refused == []
    stored = cpo.sessions[session_id].session
    assert stored.total_cost is not None
    assert stored.total_cost.excl_vat == cdr.total_cost

    # What the CPO serves is 2.1.1 too: its CDRs and Sessions Sender lists.
    cdrs = (await hub.call("GET", hub.member_url("cdrs"))).data
    assert [v211.CDR.model_validate(item).id for item in cdrs] == [cdr.id]
    listed = await hub.call(
        "GET", hub.member_url("sessions"), params={"date_from": "2025-03-01T00:00:00Z"}
    )
    [served] = [v211.Session.model_validate(item) for item in listed.data]
    assert served.id == session_id and isinstance(listed.data[0]["total_cost"], int | float)


async def test_modules_2_1_1_lacks_are_not_served(setup: Setup) -> None:
    """(Its 2.2.1 paths are not served either: tests/cpo_mock/test_versions.py.)"""
    with pytest.raises(NotFound, match="no hubclientinfo"):
        await setup.hub.call("GET", "http://cpo.test/ocpi/2.2.1/hubclientinfo/NL/EMA")


async def test_takes_a_2_1_1_token_owned_by_the_party_of_its_url(setup: Setup) -> None:
    hub, cpo = setup.hub, setup.cpo
    url = hub.member_url("tokens") + "/NL/EMA/04A1B2C3"
    params = {"type": "OTHER"}
    await hub.call("PUT", url, token_211("04A1B2C3", "NL-EMA-C00000009-X"), params=params)
    [stored] = [t for t in cpo.tokens.values() if t.uid == "04A1B2C3"]
    assert (stored.country_code, stored.party_id) == ("NL", "EMA")
    assert stored.contract_id == "NL-EMA-C00000009-X" and stored.type is TokenType.OTHER
    # A 2.1.1 PATCH needs no last_updated: the CPO's time is used.
    await hub.call("PATCH", url, {"valid": False}, params=params)
    [patched] = [t for t in cpo.tokens.values() if t.uid == "04A1B2C3"]
    assert patched.valid is False and patched.last_updated == cpo.now()
    served = await hub.call("GET", url, params=params)
    assert v211.Token.model_validate(served.data).auth_id == "NL-EMA-C00000009-X"


async def test_a_2_1_1_token_url_without_type_takes_the_type_of_the_body(setup: Setup) -> None:
    """2.1.1 Token URLs never name the type (no `?type=`): the body's is the one meant. (The
    2.2.1 core reads RFID from a URL without it, and refused an OTHER token as a mismatch.)"""
    hub, cpo = setup.hub, setup.cpo
    url = hub.member_url("tokens") + "/NL/EMA/app-0001"
    answer = await hub.call("PUT", url, token_211("app-0001", "NL-EMA-C00000010-X"))
    assert answer.status_code == 1000, answer
    [stored] = [t for t in cpo.tokens.values() if t.uid == "app-0001"]
    assert stored.type is TokenType.OTHER
    await hub.call("PATCH", url, {"valid": False})
    [patched] = [t for t in cpo.tokens.values() if t.uid == "app-0001"]
    assert patched.valid is False


async def test_asks_real_time_authorization_in_2_1_1(setup: Setup) -> None:
    hub, cpo = setup.hub, setup.cpo
    url = hub.member_url("tokens") + "/NL/EMA/04CAFE00"
    never = {**token_211("04CAFE00", "NL-EMA-C00000005-N"), "type": "RFID", "whitelist": "NEVER"}
    await hub.call("PUT", url, never)
    hub.authorization = {"allowed": "ALLOWED", "location": {"location_id": "LOC1"}}
    outcome = await cpo.swipe("LOC1", "AC1", "04CAFE00")
    await setup.settle()
    assert outcome.result.value == "ALLOWED", outcome.reason
    [asked] = hub.bodies("authorize")
    assert asked.segments == ["04CAFE00"]
    assert isinstance(asked.parsed, v211.LocationReferences)
    assert asked.parsed.location_id == "LOC1" and asked.parsed.evse_uids == ["AC1"]
    # 2.1.1 does not echo the token: the CPO's own is the 2.2.1 AuthorizationInfo's.
    hub.authorization = {"allowed": "BLOCKED"}
    refused = await cpo.swipe("LOC1", "PLAIN", "04CAFE00")
    assert refused.result.value == "BLOCKED" and len(hub.bodies("authorize")) == 2
    assert hub.refused == []


async def test_an_invalid_2_1_1_object_is_2001_naming_the_field(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    hub = setup.hub
    url = hub.member_url("tokens") + "/NL/EMA/BAD-1"
    token = {**token_211("BAD-1"), "contract_id": "NL-EMA-C00000009-X"}
    del token["auth_id"]  # 2.2.1's contract_id is 2.1.1's auth_id
    edge_log = caplog.at_level(logging.WARNING, logger="ocpi.platform.edge")
    with edge_log, pytest.raises(InvalidParameters) as refused:
        await hub.call("PUT", url, token, params={"type": "OTHER"})
    assert "2.1.1 Token" in str(refused.value) and "auth_id" in str(refused.value)
    assert not any(t.uid == "BAD-1" for t in setup.cpo.tokens.values())
    assert any("refused" in r.getMessage() for r in caplog.records)
