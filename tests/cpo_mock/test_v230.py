"""The mock CPO configured with `version = "2.3.0"` against a 2.3.0 hub double: it registers
the 2.3.0 way, pushes and serves valid 2.3.0 objects, takes 2.3.0 tokens and commands, and a
version it does not speak is a config error (docs/versions.md, "Mock members on 2.3.0")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from ocpi import v230
from ocpi.errors import InvalidParameters
from ocpi.headers import PartyRef
from ocpi.v221 import TokenType
from ocpi.v221.versions import InterfaceRole, ModuleID
from tests.cpo_mock import versions
from tests.cpo_mock.versions import EMSP_ROLE, priced_tariff
from tests.doubles.hub230 import BASE, HUB, RESULTS, Hub230
from tests.network import Network

EMSP = PartyRef("NL", "EMA")


Setup = versions.Setup[Hub230]


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    network = Network()
    hub = Hub230(network.client(), reachable=[EMSP_ROLE])
    async with versions.started(tmp_path, network, hub, [priced_tariff()]) as ready:
        yield ready


async def test_registers_with_2_3_0_credentials_and_publishes_2_3_0_details(
    setup: Setup,
) -> None:
    hub, cpo = setup.hub, setup.cpo
    assert hub.refused == []
    theirs = hub.member_credentials
    assert theirs is not None and theirs.hub_party_id is None
    assert [(r.role, r.country_code, r.party_id) for r in theirs.roles] == [
        (v230.Role.CPO, "DE", "CPB")
    ]
    # 2.3.0 has no HUB role: the hub is known by hub_party_id and addressed with it.
    peer = cpo.registration.peer
    assert peer is not None and peer.hub_party == HUB and cpo.hub_party == HUB
    assert peer.endpoint(ModuleID.LOCATIONS, InterfaceRole.RECEIVER) == (
        f"{BASE}/ocpi/hub/2.3.0/receiver/locations"
    )
    assert hub.member_url(ModuleID.LOCATIONS, InterfaceRole.SENDER) == (
        "http://cpo.test/ocpi/cpo/2.3.0/locations"
    )
    assert hub.member_url(ModuleID.CREDENTIALS, InterfaceRole.SENDER) == (
        "http://cpo.test/ocpi/2.3.0/credentials"
    )
    assert all("/2.3.0/" in endpoint.url for endpoint in hub.member_endpoints)


async def test_pushes_locations_and_tariffs_as_2_3_0(setup: Setup) -> None:
    hub = setup.hub
    locations = hub.bodies("locations", "PUT")
    assert sorted(r.segments[-1] for r in locations) == ["LOC1", "LOC2"]
    assert all(isinstance(r.parsed, v230.Location) for r in locations)
    [pushed] = hub.bodies("tariffs", "PUT")
    assert isinstance(pushed.parsed, v230.Tariff)
    # 2.2.1 prices exclude VAT: the 2.3.0 Tariff says so, and limits are PriceLimits.
    assert pushed.body["tax_included"] == "NO"
    assert pushed.body["min_price"] == {"before_taxes": 2.0, "after_taxes": 2.38}
    assert hub.refused == []


async def test_start_session_yields_2_3_0_result_session_evse_patch_and_cdr(
    setup: Setup,
) -> None:
    hub, cpo = setup.hub, setup.cpo
    commands = hub.member_url(ModuleID.COMMANDS, InterfaceRole.RECEIVER)
    start = {
        "response_url": f"{RESULTS}/start-1",
        "token": {
            "country_code": "NL",
            "party_id": "EMA",
            "uid": "app-7f3a",
            "type": "APP_USER",
            "contract_id": "NL-EMA-C00000001-A",
            "issuer": "Volt App",
            "valid": True,
            "whitelist": "NEVER",
            "last_updated": "2025-03-03T08:00:00Z",
        },
        "location_id": "LOC1",
        "evse_uid": "DC1",
        "connector_id": "1",
    }
    answer = await hub.call("POST", f"{commands}/START_SESSION", start, sender=EMSP)
    assert answer.parse(v230.CommandResponse).result == v230.CommandResponseType.ACCEPTED
    await setup.step(60)
    [result] = hub.bodies("results")
    assert result.segments == ["start-1"]
    assert result.body["result"] == "ACCEPTED"

    [session_put, *_] = hub.bodies("sessions", "PUT")
    session = session_put.parsed
    assert isinstance(session, v230.Session)
    session_id = session.id
    evse_patches = [r for r in hub.bodies("locations", "PATCH") if r.segments[3:] == ["DC1"]]
    assert evse_patches and all(isinstance(r.parsed, v230.EVSEPatch) for r in evse_patches)
    assert evse_patches[-1].body["status"] == "CHARGING"

    await setup.step(1800)
    stop = {"response_url": f"{RESULTS}/stop-1", "session_id": session_id}
    answer = await hub.call("POST", f"{commands}/STOP_SESSION", stop, sender=EMSP)
    assert answer.parse(v230.CommandResponse).result == v230.CommandResponseType.ACCEPTED
    await setup.step(60)
    await setup.step(60)

    [posted] = hub.bodies("cdrs", "POST")
    cdr = posted.parsed
    assert isinstance(cdr, v230.CDR)
    # Costs are 2.3.0 Prices: before_taxes and the VAT as a named tax, no excl/incl_vat.
    total = posted.body["total_cost"]
    assert set(total) == {"before_taxes", "taxes"}
    [vat] = total["taxes"]
    assert vat["name"] == "VAT"
    assert Decimal(str(total["before_taxes"])) > 0
    assert "excl_vat" not in str(posted.body)
    for embedded in posted.body.get("tariffs", []):
        assert embedded["tax_included"] == "NO"
    patches = [r for r in hub.bodies("sessions", "PATCH") if "total_cost" in r.body]
    assert all("before_taxes" in r.body["total_cost"] for r in patches)
    assert hub.refused == []
    assert cpo.sessions[session_id].session.total_cost is not None

    # What the CPO serves is 2.3.0 too: its Sessions and CDRs Sender lists.
    cdrs = (await hub.call("GET", hub.member_url(ModuleID.CDRS, InterfaceRole.SENDER))).data
    assert [v230.CDR.model_validate(item).id for item in cdrs] == [cdr.id]
    assert cdrs[0]["total_cost"] == total
    sessions_url = hub.member_url(ModuleID.SESSIONS, InterfaceRole.SENDER)
    listed = await hub.call("GET", sessions_url, params={"date_from": "2025-03-01T00:00:00Z"})
    [served] = [v230.Session.model_validate(item) for item in listed.data]
    assert served.id == session_id and served.total_cost is not None
    assert "before_taxes" in listed.data[0]["total_cost"]


async def test_accepts_a_2_3_0_token_of_a_type_2_2_1_lacks(setup: Setup) -> None:
    hub, cpo = setup.hub, setup.cpo
    url = hub.member_url(ModuleID.TOKENS, InterfaceRole.RECEIVER) + "/NL/EMA/EMAID-1"
    token = {
        "country_code": "NL",
        "party_id": "EMA",
        "uid": "EMAID-1",
        "type": "EMAID",
        "contract_id": "NL-EMA-C00000009-X",
        "issuer": "Volt App",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": "2025-03-03T08:00:00Z",
    }
    await hub.call("PUT", url, token, sender=EMSP, params={"type": "EMAID"})
    # docs/versions.md: a token type 2.2.1 lacks is OTHER, in the body and in the URL.
    [stored] = [t for t in cpo.tokens.values() if t.uid == "EMAID-1"]
    assert stored.type is TokenType.OTHER
    served = await hub.call("GET", url, sender=EMSP, params={"type": "EMAID"})
    assert v230.Token.model_validate(served.data).contract_id == "NL-EMA-C00000009-X"


async def test_an_invalid_2_3_0_object_is_2001_naming_the_field(setup: Setup) -> None:
    hub = setup.hub
    url = hub.member_url(ModuleID.TOKENS, InterfaceRole.RECEIVER) + "/NL/EMA/BAD-1"
    token = {
        "country_code": "NL",
        "party_id": "EMA",
        "uid": "BAD-1",
        "type": "",
        "contract_id": "NL-EMA-C00000009-X",
        "issuer": "Volt App",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": "2025-03-03T08:00:00Z",
    }
    with pytest.raises(InvalidParameters) as refused:
        await hub.call("PUT", url, token, sender=EMSP, params={"type": "OTHER"})
    assert "2.3.0 Token" in str(refused.value) and "type" in str(refused.value)
    assert not any(t.uid == "BAD-1" for t in setup.cpo.tokens.values())


async def test_takes_2_3_0_hub_client_info(setup: Setup) -> None:
    hub, cpo = setup.hub, setup.cpo
    url = hub.member_url(ModuleID.HUBCLIENTINFO, InterfaceRole.RECEIVER) + "/NL/EMA"
    info = {
        "country_code": "NL",
        "party_id": "EMA",
        "role": "EMSP",
        "status": "CONNECTED",
        "last_updated": "2025-03-03T08:00:00Z",
    }
    await hub.call("PUT", url, info, routed=False)
    found = cpo.clients.find("NL", "EMA")
    assert found is not None and found.status.value == "CONNECTED"
    served = await hub.call("GET", url, routed=False)
    assert v230.ClientInfo.model_validate(served.data).role == v230.Role.EMSP
