"""The shared member-platform kit (ocpi.platform) against the real hub, in one event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest
from fastapi import APIRouter, Depends, FastAPI

from hub.app import create_app as create_hub
from hub.service import Hub
from ocpi.client import OcpiClient
from ocpi.errors import MethodNotAllowed, UnableToUseClientApi, Unauthorized
from ocpi.headers import PartyRef, encode_authorization
from ocpi.platform import (
    MemoryPeerStore,
    ModuleInterface,
    Principal,
    Registration,
    RoutingAnswerMiddleware,
    credentials_router,
    version_endpoints,
    versions_router,
)
from ocpi.server import TokenAuth, ocpi_app, ocpi_response
from ocpi.server.responses import OcpiResponse
from ocpi.v221 import BusinessDetails, Credentials, CredentialsRole, Role
from ocpi.v221.versions import InterfaceRole, ModuleID
from tests.hub.conftest import hub_settings, invite
from tests.network import Network

PARTY = PartyRef("FR", "ELC")
INTERFACES = (
    ModuleInterface(ModuleID.CREDENTIALS, InterfaceRole.SENDER, "/ocpi/2.2.1/credentials"),
    ModuleInterface(ModuleID.LOCATIONS, InterfaceRole.SENDER, "/ocpi/cpo/2.2.1/locations"),
)


@dataclass
class Setup:
    network: Network
    hub: Hub
    registration: Registration
    store: MemoryPeerStore


def member_app(registration: Registration, base_url: str) -> FastAPI:
    app = ocpi_app("kit member")
    any_caller: TokenAuth[Principal] = TokenAuth(registration.principal)
    peer_only: TokenAuth[Literal["peer"]] = TokenAuth(registration.peer_principal)
    app.include_router(versions_router(base_url, INTERFACES, any_caller))
    app.include_router(credentials_router("/ocpi/2.2.1/credentials", registration, any_caller))
    functional = APIRouter(dependencies=[Depends(peer_only)])

    @functional.get("/ocpi/cpo/2.2.1/locations")
    async def locations() -> OcpiResponse:
        return ocpi_response([])

    app.include_router(functional)
    app.add_middleware(RoutingAnswerMiddleware, party=PARTY, prefixes=["/ocpi/cpo/"])
    return app


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    network = Network()
    hub_app = create_hub(hub_settings(tmp_path), http=network.client())
    hub: Hub = hub_app.state.hub
    await hub.start()
    network.add("hub.test", hub_app)
    store = MemoryPeerStore()
    registration = Registration(
        network.client(),
        store,
        versions_url="http://kit.test/ocpi/versions",
        roles=[
            CredentialsRole(
                role=Role.CPO,
                business_details=BusinessDetails(name="Kit"),
                country_code="FR",
                party_id="ELC",
            )
        ],
        token_a="kit-token-a",
    )
    network.add("kit.test", member_app(registration, "http://kit.test"))
    try:
        yield Setup(network, hub, registration, store)
    finally:
        await hub.stop()


def test_version_endpoints_join_base_and_path() -> None:
    [credentials, locations] = version_endpoints("http://x.test/base/", INTERFACES)
    assert credentials.url == "http://x.test/base/ocpi/2.2.1/credentials"
    assert (locations.identifier, locations.role) == (ModuleID.LOCATIONS, InterfaceRole.SENDER)


async def test_register_update_unregister(setup: Setup) -> None:
    registration = setup.registration
    state = await registration.register(
        "http://hub.test/ocpi/versions", invite(setup.hub, (Role.CPO, PARTY))
    )
    assert setup.store.state is state  # persisted before the answer is used
    assert state.hub_party == PartyRef("EU", "HUB")
    assert state.endpoint(ModuleID.LOCATIONS, InterfaceRole.RECEIVER) is not None
    assert await registration.peer_principal(state.issued_token) == "peer"
    assert await registration.peer_principal("kit-token-a") is None  # A is not for functional
    old = state.token
    rotated = await registration.update()
    assert rotated.token != old and rotated.issued_token != state.issued_token
    fresh = await registration.client().get("http://hub.test/ocpi/2.2.1/credentials", routed=False)
    assert fresh.data["token"] == rotated.token
    stale = OcpiClient(registration.http, old)
    with pytest.raises(Unauthorized):
        await stale.get("http://hub.test/ocpi/2.2.1/credentials", routed=False)
    await registration.unregister()
    assert registration.peer is None and setup.store.state is None


async def test_register_sends_token_b_it_accepts_during_the_handshake(setup: Setup) -> None:
    await setup.registration.register(
        "http://hub.test/ocpi/versions", invite(setup.hub, (Role.CPO, PARTY))
    )
    peer = setup.registration.peer
    assert peer is not None
    async with setup.network.client() as client:
        answer = await client.get(
            "http://kit.test/ocpi/cpo/2.2.1/locations",
            headers={
                "Authorization": encode_authorization(peer.issued_token),
                "OCPI-from-country-code": "NL",
                "OCPI-from-party-id": "EMA",
            },
        )
    assert answer.json()["status_code"] == 1000
    assert (answer.headers["OCPI-to-party-id"], answer.headers["OCPI-from-party-id"]) == (
        "EMA",
        "ELC",
    )


async def test_peer_initiated_handshake_and_its_405s(setup: Setup) -> None:
    registration = setup.registration
    with pytest.raises(MethodNotAllowed):
        registration.current("token_a")
    async with setup.network.client() as client:
        response = await client.post(
            "http://hub.test/admin/connect",
            json={"versions_url": "http://kit.test/ocpi/versions", "token": "kit-token-a"},
            headers={"Authorization": "Bearer admin-secret"},
        )
    assert response.json()["status_code"] == 1000, response.json()
    assert registration.peer is not None
    assert registration.token_a is None  # spent
    theirs = Credentials(
        token="x" * 10, url="http://hub.test/ocpi/versions", roles=registration.roles
    )
    with pytest.raises(MethodNotAllowed, match="already registered"):
        await registration.accept(theirs, "peer", "POST")
    await registration.forget("peer")
    with pytest.raises(MethodNotAllowed, match="not registered"):
        await registration.accept(theirs, "peer", "PUT")
    unreachable = theirs.model_copy(update={"url": "http://nowhere.test/ocpi/versions"})
    with pytest.raises(UnableToUseClientApi, match=r"nowhere\.test"):
        await registration.accept(unreachable, "token_a", "POST")
