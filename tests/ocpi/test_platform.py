"""The shared member-platform kit (ocpi.platform) against the real hub, in one event loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI

from hub.app import create_app as create_hub
from hub.service import Hub
from ocpi.client import OcpiClient
from ocpi.errors import MethodNotAllowed, UnableToUseClientApi, Unauthorized
from ocpi.headers import PartyRef, encode_authorization
from ocpi.platform import (
    ClientInfoReceiver,
    ConfigError,
    KnownParty,
    MemberRuntime,
    MemberSettings,
    MemoryPeerStore,
    ModuleInterface,
    OperationError,
    PeerState,
    Principal,
    Registration,
    RoutingAnswerMiddleware,
    TablePeerStore,
    came_back,
    credentials_router,
    load_config,
    operation_error_response,
    version_endpoints,
    versions_router,
)
from ocpi.server import TokenAuth, ocpi_app, ocpi_response
from ocpi.server.responses import OcpiResponse
from ocpi.v221 import BusinessDetails, Credentials, CredentialsRole, Role
from ocpi.v221.hubclientinfo import ClientInfo, ConnectionStatus
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


# --- the rest of the member kit: peer table, HubClientInfo, settings, runtime ----------------
class _Table:
    def __init__(self) -> None:
        self.values: dict[str, str | None] = {}

    def get_state(self, key: str) -> str | None:
        return self.values.get(key)

    def set_state(self, key: str, value: str | None) -> None:
        self.values[key] = value


async def test_table_peer_store_keeps_the_connection_as_json_under_one_key() -> None:
    table = _Table()
    peers = TablePeerStore(table)
    assert await peers.load_peer() is None
    state = PeerState("c", "b", "http://hub.test/ocpi/versions", [], [], extra={"n": 1})
    await peers.save_peer(state)
    assert table.values["peer"] is not None
    assert await peers.load_peer() == state
    await peers.save_peer(None)
    assert await peers.load_peer() is None


def _info(status: ConnectionStatus, role: Role = Role.EMSP) -> ClientInfo:
    return ClientInfo(
        country_code="nl",
        party_id="ema",
        role=role,
        status=status,
        last_updated=datetime(2025, 3, 3, 8, tzinfo=UTC),
    )


async def test_client_info_receiver_keeps_offline_since_and_reports_a_party_back() -> None:
    clock = [datetime(2025, 3, 3, 9, tzinfo=UTC)]
    saved: list[KnownParty] = []
    back: list[KnownParty] = []

    async def save(party: KnownParty) -> None:
        saved.append(party)

    def on_change(party: KnownParty, previous: KnownParty | None) -> None:
        assert receiver.lock.locked()  # the service's lock is held around every reaction
        if came_back(party, previous) and previous is not None:
            back.append(previous)

    receiver = ClientInfoReceiver(
        asyncio.Lock(), now=lambda: clock[0], save=save, on_change=on_change
    )
    ema = PartyRef("NL", "EMA")
    assert await receiver.receive(_info(ConnectionStatus.OFFLINE)) is True
    first_offline = receiver.parties[("NL", "EMA", "EMSP")].offline_since
    assert first_offline == clock[0]
    assert receiver.reachable(ema, {Role.EMSP}) is False
    assert receiver.reachable(ema, {Role.CPO}) is True  # nothing known about that role
    clock[0] += timedelta(hours=1)
    assert await receiver.receive(_info(ConnectionStatus.SUSPENDED)) is False
    assert receiver.parties[("NL", "EMA", "EMSP")].offline_since == first_offline
    assert back == []
    await receiver.receive(_info(ConnectionStatus.CONNECTED))
    assert [p.offline_since for p in back] == [first_offline]
    assert receiver.reachable(ema, {Role.EMSP}) is True
    assert len(saved) == 3
    found = receiver.find("nl", "ema")
    assert found is not None and found.status is ConnectionStatus.CONNECTED
    assert receiver.find("DE", "CPB") is None


def test_load_config_names_the_file_and_the_keys_and_resolves_sqlite_paths(
    tmp_path: Path,
) -> None:
    class Member(MemberSettings):
        country_code: str = "FR"
        party_id: str = "elc"
        name: str = "Kit"
        port: int = 9000
        database_url: str = "sqlite:///var/kit.db"

    path = tmp_path / "kit.toml"
    path.write_text('[kit]\nname = "K"\n[hub]\nversions_url = "http://h/v"\n', encoding="utf-8")
    loaded = load_config(path, Member, "kit")
    assert (loaded.name, loaded.party, loaded.public_url) == (
        "K",
        PartyRef("FR", "ELC"),
        "http://127.0.0.1:9000",
    )
    assert loaded.hub is not None and loaded.hub.versions_url == "http://h/v"
    assert loaded.database_url == f"sqlite:///{(tmp_path / 'var/kit.db').resolve()}"
    path.write_text("[kit]\nnmae = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"kit\.toml: nmae: Extra inputs"):
        load_config(path, Member, "kit")
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config(tmp_path / "missing.toml", Member, "kit")


async def test_runtime_retries_registration_until_it_has_a_peer() -> None:
    registration = Registration(
        httpx.AsyncClient(), MemoryPeerStore(), versions_url="http://x/v", roles=[]
    )
    attempts: list[int] = []

    async def register() -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise ValueError("hub not there yet")
        registration.peer = PeerState("c", "b", "http://hub/v", [], [])

    runtime = MemberRuntime(registration.http, logging.getLogger("kit"))
    runtime.register_later(register, registration, first=0.0)
    await asyncio.wait_for(runtime.drain(), 5)
    assert len(attempts) == 3 and not runtime.tasks
    await runtime.close()
    assert not registration.http.is_closed  # an injected client belongs to its owner
    await registration.http.aclose()


async def test_operation_error_is_plain_json_with_its_status() -> None:
    app = FastAPI()
    app.add_exception_handler(OperationError, operation_error_response)

    @app.get("/boom")
    async def boom() -> None:
        raise OperationError("no such EVSE", 404)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/boom")
    assert (response.status_code, response.json()) == (404, {"error": "no such EVSE"})
