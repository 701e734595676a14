"""The mock eMSP configured with `version = "2.1.1"` against a 2.1.1 hub double: it registers
the 2.1.1 way, pushes 2.1.1 tokens and commands without routing headers, takes 2.1.1
Locations, Sessions and CDRs (their owner from the URL or the hub, the driver from `auth_id`),
answers authorizations in 2.1.1 with 2.1.1 status codes, pulls 2.1.1 lists, and a version it
does not speak is a config error (docs/versions.md, "Mock members on 2.1.1")."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from ocpi import v211
from ocpi.errors import ClientError, InvalidParameters
from ocpi.translate import v211 as to211
from ocpi.v221 import Price
from ocpi.v221.versions import InterfaceRole, ModuleID
from tests.cpo_mock.conftest import location, tariff
from tests.doubles import factories as f
from tests.doubles.hub211 import BASE, HUB, Hub211
from tests.emsp_mock import versions
from tests.emsp_mock.versions import CPO, location_211
from tests.network import Network

Setup = versions.Setup[Hub211]


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    network = Network()
    async with versions.started(
        tmp_path, network, Hub211(network.client(), member_role="EMSP")
    ) as ready:
        yield ready


async def test_registers_the_2_1_1_way_and_pushes_2_1_1_tokens(setup: Setup) -> None:
    hub, emsp = setup.hub, setup.emsp
    assert hub.refused == []
    theirs = hub.member_credentials
    assert theirs is not None and (theirs.country_code, theirs.party_id) == ("NL", "EMA")
    assert emsp.link.hub_party == HUB
    endpoints = hub.member_details["endpoints"]
    assert all(set(endpoint) == {"identifier", "url"} for endpoint in endpoints)
    assert "hubclientinfo" not in {e["identifier"] for e in endpoints}
    assert hub.member_url("locations") == "http://emsp.test/ocpi/emsp/2.1.1/locations"
    # The hub's role-less endpoints are what an eMSP calls: its Senders, its Receivers.
    peer = emsp.registration.peer
    assert peer is not None
    assert peer.endpoint(ModuleID.LOCATIONS, InterfaceRole.SENDER) == (
        f"{BASE}/ocpi/hub/2.1.1/sender/locations"
    )
    assert peer.endpoint(ModuleID.TOKENS, InterfaceRole.RECEIVER) == (
        f"{BASE}/ocpi/hub/2.1.1/receiver/tokens"
    )
    tokens = hub.bodies("tokens", "PUT")
    assert {r.segments[-1] for r in tokens} == {"app-alice", "04A1B2C3", "04B0B0B0", "04DEAD00"}
    assert all(isinstance(r.parsed, v211.Token) for r in tokens)
    [app_token] = [r.body for r in tokens if r.segments[-1] == "app-alice"]
    assert app_token["auth_id"] == "NL-EMA-C00000001-A" and app_token["type"] == "OTHER"


async def test_takes_a_2_1_1_location_and_patches_without_last_updated(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    hub, emsp = setup.hub, setup.emsp
    url = setup.url("locations", "DE", "CPB", "LOC9")
    data = location_211()
    data["type"] = "PARKING_LOT"
    with caplog.at_level(logging.WARNING, logger="ocpi.platform.edge"):
        await hub.call("PUT", url, data)
        other = {**location_211("LOC8"), "type": "OTHER"}
        await hub.call("PUT", setup.url("locations", "DE", "CPB", "LOC8"), other)
    stored = emsp.location("DE", "CPB", "LOC9")
    assert stored is not None and stored.country_code == "DE" and stored.party_id == "CPB"
    assert stored.parking_type is not None and stored.parking_type.value == "PARKING_LOT"
    # 2.1.1's OTHER location type has no 2.2.1 counterpart: logged as not carried.
    [logged] = [r.getMessage() for r in caplog.records if "not carried" in r.getMessage()]
    assert "LOC8" in logged and "type:" in logged

    await hub.call("PATCH", f"{url}/DC1", {"status": "CHARGING"})
    served = await hub.call("GET", f"{url}/DC1")
    assert v211.EVSE.model_validate(served.data).status == v211.Status.CHARGING
    whole = v211.Location.model_validate((await hub.call("GET", url)).data)
    assert whole.id == "LOC9" and whole.type == v211.LocationType.PARKING_LOT

    # A 2.1.1 PATCH needs no last_updated; a Location PUT without time_zone keeps the held one.
    await hub.call("PATCH", url, {"name": "Renamed park"})
    renamed = emsp.location("DE", "CPB", "LOC9")
    assert renamed is not None and renamed.name == "Renamed park"
    without_zone = {k: v for k, v in data.items() if k != "time_zone"}
    await hub.call("PUT", url, without_zone)
    kept = emsp.location("DE", "CPB", "LOC9")
    assert kept is not None and kept.time_zone == "Europe/Berlin"
    new = {**without_zone, "id": "LOC6"}
    with pytest.raises(InvalidParameters, match="time_zone"):
        await hub.call("PUT", setup.url("locations", "DE", "CPB", "LOC6"), new)
    assert emsp.location("DE", "CPB", "LOC6") is None
    assert hub.refused == []


async def test_takes_a_2_1_1_tariff_and_its_patch(setup: Setup) -> None:
    hub, emsp = setup.hub, setup.emsp
    url = setup.url("tariffs", "DE", "CPB", "T1")
    await hub.call("PUT", url, to211.tariff_to_v211(tariff()).value.to_json())
    before = emsp.state.tariffs_of("DE", "CPB")["T1"]
    assert before.tariff_alt_url is None
    # 2.1.1 PATCHes Tariffs (2.2.1 does not): applied to the Tariff the eMSP holds.
    patch = {"tariff_alt_url": "https://spark.example/t1", "last_updated": "2025-03-04T10:00:00Z"}
    await hub.call("PATCH", url, patch)
    patched = emsp.state.tariffs_of("DE", "CPB")["T1"]
    assert patched.tariff_alt_url == "https://spark.example/t1"
    assert patched.last_updated.isoformat().startswith("2025-03-04T10:00:00")
    assert patched.elements == before.elements  # the rest is kept
    served = await hub.call("GET", url)
    assert v211.Tariff.model_validate(served.data).tariff_alt_url == "https://spark.example/t1"
    with pytest.raises(InvalidParameters, match="no Tariff T9"):
        await hub.call("PATCH", setup.url("tariffs", "DE", "CPB", "T9"), patch)
    assert hub.refused == []


async def test_takes_2_1_1_sessions_and_cdrs_finding_the_driver_by_auth_id(setup: Setup) -> None:
    hub, emsp = setup.hub, setup.emsp
    alice = setup.token("04A1B2C3")
    where = location("LOC9")
    await hub.call("PUT", setup.url("locations", "DE", "CPB", "LOC9"), location_211())
    session = f.session(
        "S1", party=CPO, of_token=alice, location_id="LOC9", evse_uid="DC1", kwh=Decimal(7)
    )
    session = session.model_copy(update={"total_cost": Price(excl_vat=Decimal("3.50"))})
    body = to211.session_to_v211(session, location=where).value.to_json()
    assert body["total_cost"] == 3.5
    await hub.call("PUT", setup.url("sessions", "DE", "CPB", "S1"), body)
    [stored] = [s for key, s in emsp.state.sessions.items() if key[2] == "S1"]
    # Where and who come from the embedded Location and the eMSP's own token.
    assert (stored.country_code, stored.party_id) == ("DE", "CPB")
    assert (stored.location_id, stored.evse_uid, stored.connector_id) == ("LOC9", "DC1", "1")
    assert stored.cdr_token.contract_id == "NL-EMA-C00000001-A"
    assert stored.cdr_token.party_id == "EMA"
    assert stored.total_cost is not None and stored.total_cost.excl_vat == Decimal("3.5")

    served = await hub.call("GET", setup.url("sessions", "DE", "CPB", "S1"))
    assert v211.Session.model_validate(served.data).total_cost == Decimal("3.5")

    stranger = {**body, "id": "S2", "auth_id": "NL-XXX-C99999999-Z"}
    with pytest.raises(InvalidParameters, match="NL-XXX-C99999999-Z"):
        await hub.call("PUT", setup.url("sessions", "DE", "CPB", "S2"), stranger)

    cdr = f.cdr("CDR1", party=CPO, of_token=alice, of_location=where, of_tariff=tariff())
    cdr_body = to211.cdr_to_v211(cdr, location=where).value.to_json()
    answer = await hub.call("POST", setup.url("cdrs"), cdr_body)
    # A 2.1.1 CDR names no owner, and its URL neither: it is the hub's.
    [kept] = [c for key, c in emsp.state.cdrs.items() if key[2] == "CDR1"]
    assert (kept.country_code, kept.party_id) == (HUB.country_code, HUB.party_id)
    assert kept.total_cost.excl_vat == Decimal(str(cdr_body["total_cost"]))
    assert kept.cdr_location.evse_uid == where.evses[0].uid  # type: ignore[index]
    location_header = answer.headers["Location"]
    assert location_header.startswith(setup.url("cdrs") + "/")
    fetched = await hub.call("GET", location_header)
    assert v211.CDR.model_validate(fetched.data).id == "CDR1"
    assert hub.refused == []


async def test_answers_authorizations_in_2_1_1_with_2_1_1_status_codes(setup: Setup) -> None:
    hub = setup.hub
    url = setup.url("tokens", "04A1B2C3", "authorize")
    where = {"location_id": "LOC9", "evse_uids": ["DC1"], "connector_ids": ["1"]}
    answer = await hub.call("POST", url, where, params={"type": "RFID"})
    info = v211.AuthorizationInfo.model_validate(answer.data)
    assert info.allowed.value == "ALLOWED"
    assert "token" not in answer.data  # 2.1.1 does not echo the token
    # 2.2.1 answers an unknown token with 2004, which 2.1.1 does not have: 2000.
    unknown = setup.url("tokens", "NOPE", "authorize")
    with pytest.raises(ClientError) as refused:
        await hub.call("POST", unknown, where, params={"type": "RFID"})
    assert refused.value.status_code == 2000
    assert hub.refused == []


async def test_pulls_2_1_1_lists_owned_by_the_hub(setup: Setup) -> None:
    hub, emsp = setup.hub, setup.emsp
    hub.sender_data["locations"] = [location_211("LOC7")]
    hub.sender_data["tariffs"] = [to211.tariff_to_v211(tariff("T7")).value.to_json()]
    answer = await setup.app("POST", "/resync?full=true")
    assert answer.status_code == 200, answer.text
    assert emsp.location(HUB.country_code, HUB.party_id, "LOC7") is not None
    assert set(emsp.state.tariffs_of(HUB.country_code, HUB.party_id)) == {"T7"}
    assert hub.refused == []
