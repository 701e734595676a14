"""The pure routing decision (hub/routing.py): every rule, with no sockets and no database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

import pytest

from hub.copies import Copies, Copy, token_key
from hub.directory import Directory, Party, Platform
from hub.routing import (
    Broadcast,
    Forward,
    HubList,
    Message,
    check_sender,
    decide,
    quoted_path,
)
from ocpi.errors import (
    ConnectionProblem,
    InvalidParameters,
    MethodNotAllowed,
    NotFound,
    UnknownReceiver,
)
from ocpi.headers import PartyRef
from ocpi.v221.hubclientinfo import ConnectionStatus
from ocpi.v221.types import Role
from ocpi.v221.versions import InterfaceRole, ModuleID

HUB = PartyRef("EU", "HUB")
CPO = PartyRef("DE", "CPB")
CPO2 = PartyRef("FR", "ELC")
EMSP = PartyRef("NL", "EMA")
EMSP2 = PartyRef("IT", "ATL")
T0 = datetime(2024, 1, 1, tzinfo=UTC)
ALL_MODULES = ("locations", "tariffs", "sessions", "cdrs", "tokens", "commands", "chargingprofiles")


def _platform(
    pid: int,
    role: Role,
    ref: PartyRef,
    status: ConnectionStatus = ConnectionStatus.CONNECTED,
    modules: tuple[str, ...] = ALL_MODULES,
) -> Platform:
    endpoints = {}
    for module in modules:
        for interface in (InterfaceRole.SENDER, InterfaceRole.RECEIVER):
            endpoints[(module, interface)] = (
                f"http://{ref.party_id.lower()}/{interface.value.lower()}/{module}"
            )
    party = Party(role, ref, status, T0, platform_id=pid)
    return Platform(
        pid,
        ref.party_id,
        f"http://{ref.party_id.lower()}/versions",
        "b",
        f"h{pid}",
        endpoints,
        [party],
    )


@pytest.fixture
def world() -> tuple[Directory, Copies, dict[PartyRef, Platform]]:
    directory = Directory()
    platforms = {
        CPO: _platform(1, Role.CPO, CPO),
        CPO2: _platform(2, Role.CPO, CPO2, ConnectionStatus.OFFLINE),
        EMSP: _platform(3, Role.EMSP, EMSP),
        EMSP2: _platform(4, Role.EMSP, EMSP2, modules=("sessions", "cdrs")),
    }
    for platform in platforms.values():
        directory.add_platform(platform)
    directory.add_party(Party(Role.EMSP, PartyRef("BE", "PLN"), ConnectionStatus.PLANNED, T0))
    copies = Copies()
    copies.put(Copy(ModuleID.LOCATIONS, CPO, "LOC1", {"id": "LOC1"}, T0))
    copies.put(Copy(ModuleID.LOCATIONS, CPO2, "SHARED", {"id": "SHARED"}, T0))
    copies.put(Copy(ModuleID.LOCATIONS, CPO, "SHARED", {"id": "SHARED"}, T0))
    copies.put(Copy(ModuleID.TOKENS, EMSP, token_key("RFID1", "RFID"), {"uid": "RFID1"}, T0))
    copies.put(Copy(ModuleID.SESSIONS, CPO, "S1", {"id": "S1"}, T0, receiver=EMSP))
    return directory, copies, platforms


def _msg(
    module: str,
    interface: InterfaceRole,
    method: str,
    *segments: str,
    to: PartyRef | None = None,
    from_: PartyRef | None = CPO,
    body: Any = None,
    query: dict[str, str] | None = None,
) -> Message:
    return Message(ModuleID(module), interface, method, segments, query or {}, to, from_, body)


def _route(world: Any, message: Message, sender: PartyRef) -> Any:
    directory, copies, platforms = world
    platform = platforms[sender]
    party = check_sender(message, platform)
    return decide(message, platform, party, directory, copies, HUB)


R, S = InterfaceRole.RECEIVER, InterfaceRole.SENDER


def test_direct_request_goes_to_the_to_party_with_the_same_path(world: Any) -> None:
    route = _route(world, _msg("sessions", R, "PUT", "DE", "CPB", "S9", to=EMSP), CPO)
    assert isinstance(route, Forward)
    assert route.target.party.ref == EMSP
    assert route.target.url == "http://ema/receiver/sessions/DE/CPB/S9"
    assert not route.open_routed


def test_sender_interface_maps_to_the_receivers_sender_interface(world: Any) -> None:
    route = _route(world, _msg("locations", S, "GET", "LOC1", "E 1", to=CPO, from_=EMSP), EMSP)
    assert route.target.url == "http://cpb/sender/locations/LOC1/E%201"


def test_missing_from_headers_are_refused(world: Any) -> None:
    with pytest.raises(InvalidParameters, match="OCPI-from"):
        _route(world, _msg("locations", S, "GET", to=HUB, from_=None), EMSP)


def test_impersonating_another_party_is_refused(world: Any) -> None:
    with pytest.raises(InvalidParameters, match="not a party of the platform"):
        _route(world, _msg("sessions", R, "PUT", "FR", "ELC", "S1", to=EMSP, from_=CPO2), CPO)


def test_object_url_of_another_party_is_404(world: Any) -> None:
    with pytest.raises(NotFound, match="not the sending party"):
        _route(world, _msg("locations", R, "PUT", "FR", "ELC", "L", to=HUB), CPO)


def test_unknown_receiver_is_4001(world: Any) -> None:
    with pytest.raises(UnknownReceiver) as caught:
        _route(world, _msg("sessions", R, "PUT", "DE", "CPB", "S1", to=PartyRef("XX", "NOP")), CPO)
    assert caught.value.status_code == 4001


@pytest.mark.parametrize(("to", "state"), [(CPO2, "OFFLINE"), (PartyRef("BE", "PLN"), "PLANNED")])
def test_offline_and_planned_receivers_are_4003(world: Any, to: PartyRef, state: str) -> None:
    with pytest.raises(ConnectionProblem, match=state) as caught:
        _route(world, _msg("commands", R, "POST", "START_SESSION", to=to, from_=EMSP), EMSP)
    assert caught.value.status_code == 4003


def test_receiver_without_the_module_is_4003(world: Any) -> None:
    with pytest.raises(ConnectionProblem, match="does not implement the locations RECEIVER"):
        _route(world, _msg("locations", R, "PATCH", "DE", "CPB", "L", to=EMSP2), CPO)


def test_broadcast_reaches_connected_opposite_roles_implementing_the_receiver(world: Any) -> None:
    route = _route(world, _msg("locations", R, "PUT", "DE", "CPB", "LOC1", to=HUB), CPO)
    assert isinstance(route, Broadcast)
    # EMSP2 lacks a locations endpoint, the PLANNED eMSP is skipped, and a CPO never
    # receives a CPO's broadcast.
    assert [t.party.ref for t in route.targets] == [EMSP]
    assert route.targets[0].url == "http://ema/receiver/locations/DE/CPB/LOC1"


def test_emsp_token_broadcast_goes_to_cpos_connected_or_offline(world: Any) -> None:
    # The OFFLINE CPO is kept in the audience: its deliveries wait in the outbox until it is
    # back (hub/deliveries.py); PLANNED and SUSPENDED parties are never in it.
    route = _route(world, _msg("tokens", R, "PUT", "NL", "EMA", "T1", to=HUB, from_=EMSP), EMSP)
    assert [t.party.ref for t in route.targets] == [CPO, CPO2]


def test_a_push_with_no_to_headers_is_a_broadcast(world: Any) -> None:
    route = _route(world, _msg("tariffs", R, "DELETE", "DE", "CPB", "T1"), CPO)
    assert isinstance(route, Broadcast)


def test_broadcast_of_a_method_the_module_lacks_is_405(world: Any) -> None:
    with pytest.raises(MethodNotAllowed):
        _route(world, _msg("tariffs", R, "PATCH", "DE", "CPB", "T1", to=HUB), CPO)


def test_sessions_addressed_to_the_hub_are_refused(world: Any) -> None:
    with pytest.raises(InvalidParameters, match="cannot be addressed to the hub"):
        _route(world, _msg("sessions", R, "PUT", "DE", "CPB", "S1", to=HUB), CPO)


@pytest.mark.parametrize("to", [HUB, None])
def test_list_get_on_the_hub_sender_interface_is_served_by_the_hub(
    world: Any, to: PartyRef | None
) -> None:
    assert isinstance(_route(world, _msg("locations", S, "GET", to=to, from_=EMSP), EMSP), HubList)


def test_open_routing_of_a_command_by_location_id(world: Any) -> None:
    message = _msg("commands", R, "POST", "START_SESSION", from_=EMSP, body={"location_id": "LOC1"})
    route = _route(world, message, EMSP)
    assert isinstance(route, Forward)
    assert route.open_routed
    assert route.target.party.ref == CPO


def test_open_routing_of_stop_session_by_session_id(world: Any) -> None:
    route = _route(
        world,
        _msg("commands", R, "POST", "STOP_SESSION", from_=EMSP, body={"session_id": "S1"}),
        EMSP,
    )
    assert route.target.party.ref == CPO


def test_open_routing_of_authorize_by_token_uid(world: Any) -> None:
    route = _route(
        world, _msg("tokens", S, "POST", "RFID1", "authorize", query={"type": "RFID"}), CPO
    )
    assert route.target.party.ref == EMSP
    assert route.target.url == "http://ema/sender/tokens/RFID1/authorize"


def test_open_routing_of_a_session_by_its_cdr_token(world: Any) -> None:
    body = {"cdr_token": {"country_code": "IT", "party_id": "ATL"}}
    route = _route(world, _msg("sessions", R, "PUT", "DE", "CPB", "S2", body=body), CPO)
    assert route.target.party.ref == EMSP2


def test_open_routing_of_a_session_patch_by_the_copy(world: Any) -> None:
    route = _route(world, _msg("sessions", R, "PATCH", "DE", "CPB", "S1", body={}), CPO)
    assert route.target.party.ref == EMSP


def test_open_routing_that_finds_nobody_is_4001(world: Any) -> None:
    with pytest.raises(UnknownReceiver, match="cannot tell the receiver"):
        _route(world, _msg("tokens", S, "POST", "UNKNOWN", "authorize"), CPO)


def test_open_routing_that_finds_several_parties_is_4001(world: Any) -> None:
    with pytest.raises(UnknownReceiver, match="several parties"):
        _route(world, _msg("locations", S, "GET", "SHARED", from_=EMSP), EMSP)


@pytest.mark.parametrize(
    ("module", "interface", "method"),
    [
        ("cdrs", R, "PUT"),  # CDRs are POSTed, never PUT
        ("locations", R, "DELETE"),  # a Location is never deleted (it is unpublished)
        ("tariffs", R, "PATCH"),
        ("commands", R, "GET"),
        ("locations", S, "POST"),
    ],
)
def test_a_method_the_interface_does_not_define_is_refused_not_forwarded(
    world: Any, module: str, interface: InterfaceRole, method: str
) -> None:
    message = _msg(module, interface, method, "DE", "CPB", "X1", to=EMSP)
    with pytest.raises(MethodNotAllowed) as refused:
        _route(world, message, CPO)
    assert refused.value.http_status == 405
    assert f"has no {method}" in refused.value.message


@pytest.mark.parametrize(
    "segments",
    [
        ("NL", "FAS", "LOC-1", "EVSE_1.a~b"),
        ("a b", "ü", "a/b", "%2e%2e", "?x=1#y", "", "+;=,"),
        ("東京", "\u2028", "x\x00y"),
    ],
)
def test_a_forwarded_path_encodes_every_segment_whole_as_quote_does(
    segments: tuple[str, ...],
) -> None:
    assert quoted_path(segments) == "/".join(quote(s, safe="") for s in segments)
    assert [unquote(part) for part in quoted_path(segments).split("/")] == list(segments)
