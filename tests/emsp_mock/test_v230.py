"""The mock eMSP configured with `version = "2.3.0"` against a 2.3.0 hub double: it registers
the 2.3.0 way, pushes 2.3.0 tokens and commands, takes 2.3.0 objects (and refuses with 2001
what its 2.2.1 core cannot carry), pulls 2.3.0 lists, and a version it does not speak is a
config error (docs/versions.md, "Mock members on 2.3.0")."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ocpi import v230
from ocpi.errors import InvalidParameters, PeerProtocolError
from ocpi.translate.v230 import cdr_to_v230, session_to_v230
from ocpi.v221.versions import InterfaceRole, ModuleID
from tests.cpo_mock.conftest import tariff
from tests.cpo_mock.test_control_evse import stack_unavailable
from tests.doubles import factories as f
from tests.doubles.hub230 import HUB, Hub230
from tests.emsp_mock import versions
from tests.emsp_mock.versions import CPO, location_230
from tests.network import Network

CPO_ROLE = v230.CredentialsRole(
    role=v230.Role.CPO,
    business_details=v230.BusinessDetails(name="Spark Test"),
    country_code="DE",
    party_id="CPB",
)


Setup = versions.Setup[Hub230]


def tariff_230(id: str = "T1", tax_included: str = "NO") -> dict[str, Any]:
    return {**tariff(id).to_json(), "tax_included": tax_included}


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    network = Network()
    hub = Hub230(network.client(), reachable=[CPO_ROLE])
    async with versions.started(tmp_path, network, hub) as ready:
        yield ready


async def test_registers_the_2_3_0_way_and_pushes_2_3_0_tokens(setup: Setup) -> None:
    hub, emsp = setup.hub, setup.emsp
    assert hub.refused == []
    theirs = hub.member_credentials
    assert theirs is not None
    assert [(r.role, r.country_code, r.party_id) for r in theirs.roles] == [
        (v230.Role.EMSP, "NL", "EMA")
    ]
    assert emsp.link.hub_party == HUB
    assert hub.member_url(ModuleID.LOCATIONS, InterfaceRole.RECEIVER) == (
        "http://emsp.test/ocpi/emsp/2.3.0/locations"
    )
    tokens = hub.bodies("tokens", "PUT")
    assert {r.segments[-1] for r in tokens} == {"app-alice", "04A1B2C3", "04B0B0B0", "04DEAD00"}
    assert all(isinstance(r.parsed, v230.Token) for r in tokens)


async def test_takes_a_2_3_0_location_and_serves_it_back_as_2_3_0(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    hub, emsp = setup.hub, setup.emsp
    url = setup.url(ModuleID.LOCATIONS, "DE", "CPB", "LOC9")
    with caplog.at_level(logging.WARNING, logger="ocpi.platform.edge"):
        await hub.call("PUT", url, location_230(), sender=CPO)
    # What 2.2.1 cannot carry is logged, naming the member and each field.
    [logged] = [r.getMessage() for r in caplog.records if "not carried" in r.getMessage()]
    assert logged.startswith("PUT http://emsp.test/ocpi/emsp/2.3.0/locations/DE/CPB/LOC9")
    for path in ("parking_places", "help_phone", "evses.0.parking", "evses.3"):
        assert f"{path}:" in logged
    stored = emsp.location("DE", "CPB", "LOC9")
    assert stored is not None
    # docs/versions.md: an EVSE whose connectors 2.2.1 all lacks is left out going down.
    assert [e.uid for e in stored.evses or []] == ["DC1", "AC1", "PLAIN"]

    patch = {"status": "CHARGING", "last_updated": "2025-03-03T09:00:00Z"}
    await hub.call("PATCH", f"{url}/DC1", patch, sender=CPO)
    served = await hub.call("GET", f"{url}/DC1", sender=CPO)
    assert v230.EVSE.model_validate(served.data).status == v230.Status.CHARGING
    whole = v230.Location.model_validate((await hub.call("GET", url, sender=CPO)).data)
    assert whole.id == "LOC9" and whole.parking_places is None


async def test_a_2_3_0_patch_is_carried_down_and_served_ahead_of_the_app_stack(
    setup: Setup,
) -> None:
    """The VersionEdge runs ahead of the receiving routes served first (OcpiApp front
    middleware): the 2.3.0 URL reaches the 2.2.1 route without FastAPI's stack."""
    url = setup.url(ModuleID.LOCATIONS, "DE", "CPB", "LOC9")
    await setup.hub.call("PUT", url, location_230(), sender=CPO)
    setup.asgi.middleware_stack = stack_unavailable
    patch = {"status": "OUTOFORDER", "last_updated": "2025-03-03T09:00:00Z"}
    answer = await setup.hub.call("PATCH", f"{url}/DC1", patch, sender=CPO)
    assert answer.status_code == 1000
    stored = setup.emsp.location("DE", "CPB", "LOC9")
    assert stored is not None and stored.evses is not None
    assert stored.evses[0].status.value == "OUTOFORDER"
    with pytest.raises(PeerProtocolError, match="503"):
        await setup.hub.call("GET", f"{url}/DC1", sender=CPO)  # the stack's


async def test_an_evse_put_with_only_connectors_2_2_1_lacks_is_2001(setup: Setup) -> None:
    evse = location_230()["evses"][-1]
    url = setup.url(ModuleID.LOCATIONS, "DE", "CPB", "LOC1", "MCS1")
    with pytest.raises(InvalidParameters, match=r"cannot be carried to OCPI 2\.2\.1"):
        await setup.hub.call("PUT", url, evse, sender=CPO)


async def test_a_caller_without_a_valid_token_gets_401_before_its_body_is_read(
    setup: Setup,
) -> None:
    """The edge translates a body only for a caller the core would let in: an invalid 2.3.0
    EVSE from someone without the token is 401 (not 2001, which would tell a stranger how
    its body was judged); with the token, the same body is 2001."""
    evse = location_230()["evses"][-1]
    url = setup.url(ModuleID.LOCATIONS, "DE", "CPB", "LOC1", "MCS1")
    async with setup.network.client() as client:
        for authorization in (None, "Token bm90LWEtdG9rZW4="):
            headers = {"Authorization": authorization} if authorization else {}
            response = await client.put(url, json=evse, headers=headers)
            assert response.status_code == 401, response.text
            assert response.json()["status_code"] == 2000
    with pytest.raises(InvalidParameters):
        await setup.hub.call("PUT", url, evse, sender=CPO)


async def test_tariffs_tax_included_no_is_taken_and_yes_is_2001_with_the_reason(
    setup: Setup,
) -> None:
    hub, emsp = setup.hub, setup.emsp
    await hub.call("PUT", setup.url(ModuleID.TARIFFS, "DE", "CPB", "T1"), tariff_230(), sender=CPO)
    assert "T1" in emsp.state.tariffs_of("DE", "CPB")
    with pytest.raises(InvalidParameters) as refused:
        await hub.call(
            "PUT",
            setup.url(ModuleID.TARIFFS, "DE", "CPB", "T2"),
            tariff_230("T2", tax_included="YES"),
            sender=CPO,
        )
    assert "tax_included" in str(refused.value)
    assert "T2" not in emsp.state.tariffs_of("DE", "CPB")
    served = await hub.call("GET", setup.url(ModuleID.TARIFFS, "DE", "CPB", "T1"), sender=CPO)
    assert v230.Tariff.model_validate(served.data).tax_included == v230.TaxIncluded.NO


async def test_takes_2_3_0_sessions_and_cdrs_with_prices_as_taxes(setup: Setup) -> None:
    hub, emsp = setup.hub, setup.emsp
    session = session_to_v230(f.session(id="S1", party=CPO)).value.to_json()
    session["total_cost"] = {
        "before_taxes": 10.0,
        "taxes": [{"name": "VAT", "percentage": 21, "amount": 2.1}],
    }
    await hub.call("PUT", setup.url(ModuleID.SESSIONS, "DE", "CPB", "S1"), session, sender=CPO)
    [stored] = [s for key, s in emsp.state.sessions.items() if key[2] == "S1"]
    assert stored.total_cost is not None
    assert stored.total_cost.excl_vat == Decimal("10.0")
    assert stored.total_cost.incl_vat == Decimal("12.1")

    cdr = cdr_to_v230(f.cdr(id="CDR1", party=CPO)).value.to_json()
    cdr["total_cost"] = {"before_taxes": 20.0, "taxes": [{"name": "VAT", "amount": 4.2}]}
    answer = await hub.call("POST", hub.member_url(ModuleID.CDRS, InterfaceRole.RECEIVER), cdr)
    [kept] = [c for key, c in emsp.state.cdrs.items() if key[2] == "CDR1"]
    assert kept.total_cost.excl_vat == Decimal("20.0")
    assert kept.total_cost.incl_vat == Decimal("24.2")
    served = await hub.call("GET", answer.headers["Location"], sender=CPO)
    assert v230.CDR.model_validate(served.data).total_cost.before_taxes == Decimal("20.0")


async def test_pulls_2_3_0_lists_leaving_out_what_2_2_1_cannot_carry(setup: Setup) -> None:
    hub, emsp = setup.hub, setup.emsp
    hub.sender_data["locations"] = [location_230("LOC7")]
    hub.sender_data["tariffs"] = [tariff_230("T7"), tariff_230("T8", tax_included="YES")]
    answer = await setup.app("POST", "/resync?full=true")
    assert answer.status_code == 200, answer.text
    assert emsp.location("DE", "CPB", "LOC7") is not None
    assert set(emsp.state.tariffs_of("DE", "CPB")) == {"T7"}
