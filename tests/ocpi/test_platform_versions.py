"""The member kit's version machinery without a platform: which object a request carries
(`exchange`), the adapters, the outbound edge choosing among a hub's endpoints, and the hub
party a 2.3.0 peer names surviving a restart (docs/versions.md, "Mock members on 2.3.0")."""

from __future__ import annotations

import json

import httpx
import pytest

from ocpi.client import OcpiClient
from ocpi.envelope import envelope_dict
from ocpi.errors import UnsupportedVersion
from ocpi.headers import PartyRef
from ocpi.platform import MemoryPeerStore, PeerState, Registration
from ocpi.platform.adapters import (
    Carried,
    Exchange,
    ObjectKind,
    V230Adapter,
    adapter_for,
    exchange,
)
from ocpi.platform.edge import EdgeTransport, endpoint_under
from ocpi.v221 import BusinessDetails, CredentialsRole, Role
from ocpi.v221.versions import Endpoint, InterfaceRole, ModuleID
from tests.doubles import factories as f

R, S = InterfaceRole.RECEIVER, InterfaceRole.SENDER


@pytest.mark.parametrize(
    ("module", "role", "method", "path", "expected"),
    [
        (ModuleID.LOCATIONS, S, "GET", "", Exchange(response=Carried(ObjectKind.LOCATION, True))),
        (ModuleID.LOCATIONS, S, "GET", "L1/E1", Exchange(response=Carried(ObjectKind.EVSE))),
        (ModuleID.LOCATIONS, R, "PUT", "DE/CPB/L1", Exchange(request=Carried(ObjectKind.LOCATION))),
        (
            ModuleID.LOCATIONS,
            R,
            "PATCH",
            "DE/CPB/L1/E1",
            Exchange(request=Carried(ObjectKind.EVSE_PATCH)),
        ),
        (
            ModuleID.LOCATIONS,
            R,
            "GET",
            "DE/CPB/L1/E1/1",
            Exchange(response=Carried(ObjectKind.CONNECTOR)),
        ),
        (ModuleID.TARIFFS, R, "PUT", "DE/CPB/T1", Exchange(request=Carried(ObjectKind.TARIFF))),
        (ModuleID.TARIFFS, R, "DELETE", "DE/CPB/T1", Exchange()),
        (
            ModuleID.TARIFFS,
            R,
            "PATCH",
            "DE/CPB/T1",
            Exchange(request=Carried(ObjectKind.TARIFF_PATCH)),
        ),
        (
            ModuleID.SESSIONS,
            R,
            "PATCH",
            "DE/CPB/S1",
            Exchange(request=Carried(ObjectKind.SESSION_PATCH)),
        ),
        (ModuleID.SESSIONS, S, "PUT", "S1/charging_preferences", Exchange()),
        (ModuleID.CDRS, R, "POST", "", Exchange(request=Carried(ObjectKind.CDR))),
        (ModuleID.CDRS, S, "GET", "", Exchange(response=Carried(ObjectKind.CDR, True))),
        (ModuleID.TOKENS, R, "PUT", "NL/EMA/U1", Exchange(request=Carried(ObjectKind.TOKEN))),
        (
            ModuleID.TOKENS,
            S,
            "POST",
            "U1/authorize",
            Exchange(
                Carried(ObjectKind.LOCATION_REFERENCES), Carried(ObjectKind.AUTHORIZATION_INFO)
            ),
        ),
        (
            ModuleID.COMMANDS,
            R,
            "POST",
            "START_SESSION",
            Exchange(Carried(ObjectKind.START_SESSION), Carried(ObjectKind.COMMAND_RESPONSE)),
        ),
        (
            ModuleID.COMMANDS,
            R,
            "POST",
            "STOP_SESSION",
            Exchange(Carried(ObjectKind.STOP_SESSION), Carried(ObjectKind.COMMAND_RESPONSE)),
        ),
        (ModuleID.COMMANDS, R, "POST", "CANCEL_RESERVATION", Exchange()),
        (
            ModuleID.COMMANDS,
            S,
            "POST",
            "START_SESSION/c1",
            Exchange(request=Carried(ObjectKind.COMMAND_RESULT)),
        ),
        (
            ModuleID.HUBCLIENTINFO,
            R,
            "PUT",
            "NL/EMA",
            Exchange(request=Carried(ObjectKind.CLIENT_INFO)),
        ),
        ("chargingprofiles", R, "PUT", "S1", Exchange()),
    ],
)
def test_exchange_names_the_object_each_request_carries(
    module: ModuleID | str, role: InterfaceRole, method: str, path: str, expected: Exchange
) -> None:
    segments = [part for part in path.split("/") if part]
    assert exchange(module, role, method, segments) == expected


def test_adapter_paths_and_unknown_versions() -> None:
    adapter = adapter_for("2.3.0")
    assert adapter.served_path("/ocpi/cpo/2.2.1/locations") == "/ocpi/cpo/2.3.0/locations"
    assert adapter_for("2.2.1").served_path("/ocpi/2.2.1/credentials") == "/ocpi/2.2.1/credentials"
    assert not adapter_for("2.2.1").translates and adapter.translates
    assert adapter_for("2.1.1").served_path("/ocpi/cpo/2.2.1/tokens") == "/ocpi/cpo/2.1.1/tokens"
    with pytest.raises(
        ValueError, match=r"'2\.0' is not .*\(supported: 2\.1\.1, 2\.2\.1, 2\.3\.0\)"
    ):
        adapter_for("2.0")


def test_credentials_in_keeps_the_hub_party_and_the_reachable_roles() -> None:
    theirs = {
        "token": "tok",
        "url": "http://hub.test/ocpi/versions",
        "hub_party_id": "NLHUB",
        "roles": [
            {
                "role": "CPO",
                "business_details": {"name": "Spark"},
                "country_code": "DE",
                "party_id": "CPB",
            }
        ],
    }
    received = V230Adapter().credentials_in(theirs)
    assert received.hub_party == PartyRef("NL", "HUB")
    assert [(r.role, r.party_id) for r in received.credentials.roles] == [(Role.CPO, "CPB")]
    assert received.lost == ()


def test_peer_state_keeps_the_hub_party_id_across_a_restart() -> None:
    state = PeerState("t", "i", "http://hub.test/ocpi/versions", [], [], hub_party_id="NLHUB")
    again = PeerState.from_json(state.to_json())
    assert again.hub_party == PartyRef("NL", "HUB")


async def test_one_url_for_both_interfaces_is_called_as_the_cpo_role_needs() -> None:
    """A hub may publish one URL for both roles of a module: a CPO pushing a Tariff calls the
    Receiver, so the body goes out as a 2.3.0 Tariff (with tax_included)."""
    seen: list[bytes] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        return httpx.Response(200, json=envelope_dict())

    url = "http://hub.test/ocpi/2.3.0/tariffs"
    peer = PeerState(
        "t",
        "i",
        "http://hub.test/ocpi/versions",
        [
            Endpoint(identifier=ModuleID.TARIFFS, role=S, url=url),
            Endpoint(identifier=ModuleID.TARIFFS, role=R, url=url),
        ],
        [],
    )
    inner = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    edge = EdgeTransport(inner, V230Adapter(), lambda: peer, Role.CPO, "http://cpo.test")
    async with httpx.AsyncClient(transport=edge) as http:
        tariff = f.tariff()
        await OcpiClient(http, "t").put(f"{url}/DE/CPB/{tariff.id}", tariff)
    await inner.aclose()
    [sent] = seen
    assert json.loads(sent)["tax_included"] == "NO"


async def test_a_2_3_0_member_refuses_a_hub_without_2_3_0() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        listed = [{"version": "2.2.1", "url": "http://hub.test/ocpi/2.2.1"}]
        return httpx.Response(200, json=envelope_dict(listed))

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        registration = Registration(
            http,
            MemoryPeerStore(),
            versions_url="http://cpo.test/ocpi/versions",
            roles=[
                CredentialsRole(
                    role=Role.CPO,
                    business_details=BusinessDetails(name="Spark"),
                    country_code="DE",
                    party_id="CPB",
                )
            ],
            version=V230Adapter(),
        )
        with pytest.raises(
            UnsupportedVersion, match=r"offers no OCPI 2\.3\.0 \(it offers 2\.2\.1\)"
        ):
            await registration.register("http://hub.test/ocpi/versions", "token-a")
    assert registration.peer is None


def test_the_endpoint_an_outgoing_url_lies_under_and_the_segments_below_it() -> None:
    """The longest base wins; segments come unquoted; a query or fragment is not a segment;
    a URL written differently from the base (host case, default port) is still found."""
    locations = Endpoint(
        identifier=ModuleID.LOCATIONS, role=R, url="http://hub.test/ocpi/2.3.0/locations"
    )
    wider = Endpoint(identifier="other", role=R, url="http://hub.test/ocpi/2.3.0")
    endpoints = [wider, locations]

    def receiver(_module: object) -> InterfaceRole:
        return R

    url = "http://hub.test/ocpi/2.3.0/locations/DE/CPB/LOC%201/E%2F1?x=1#f"
    assert endpoint_under(url, endpoints, receiver) == (locations, ["DE", "CPB", "LOC 1", "E/1"])
    same = "http://HUB.test:80/ocpi/2.3.0/locations/DE/CPB/L%C3%BC"
    assert endpoint_under(same, endpoints, receiver) == (locations, ["DE", "CPB", "Lü"])
    assert endpoint_under("http://hub.test/ocpi/2.3.0", endpoints, receiver) == (wider, [])
    assert endpoint_under("http://hub.test/ocpi/2.3.0x/a", endpoints, receiver) is None
    assert endpoint_under("http://elsewhere.test/ocpi/2.3.0/locations", endpoints, receiver) is None
