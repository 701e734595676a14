"""The member kit's credentials rotation when an answer is lost, and the operations API's
register/rotate calls (ocpi.platform), against a peer faked with httpx.MockTransport."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ocpi.envelope import encode_envelope
from ocpi.platform import (
    MemoryPeerStore,
    OperationError,
    PeerState,
    Registration,
    register_on_request,
    rotate_on_request,
)
from ocpi.v221 import BusinessDetails, Credentials, CredentialsRole, Role

PEER_VERSIONS = "http://peer.test/ocpi/versions"
HUB_ROLE = CredentialsRole(
    role=Role.HUB, business_details=BusinessDetails(name="Hub"), country_code="EU", party_id="HUB"
)
OWN_ROLE = CredentialsRole(
    role=Role.CPO, business_details=BusinessDetails(name="Kit"), country_code="FR", party_id="ELC"
)


def _peer(request: httpx.Request) -> httpx.Response:
    """The peer's versions and 2.2.1 details (any token), and its credentials endpoint."""
    if request.url.path == "/ocpi/versions":
        data: Any = [{"version": "2.2.1", "url": "http://peer.test/ocpi/2.2.1"}]
    elif request.url.path == "/ocpi/2.2.1":
        endpoint = {"identifier": "credentials", "role": "SENDER", "url": "http://peer.test/c"}
        data = {"version": "2.2.1", "endpoints": [endpoint]}
    else:
        data = Credentials(token="from-peer", url=PEER_VERSIONS, roles=[HUB_ROLE]).to_json()
    return httpx.Response(200, content=encode_envelope(data))


def _registration(issued: str = "old") -> tuple[Registration, MemoryPeerStore]:
    peer = PeerState(
        token="to-peer",
        issued_token=issued,
        versions_url=PEER_VERSIONS,
        endpoints=[],
        roles=[HUB_ROLE],
        credentials_url="http://peer.test/c",
    )
    store = MemoryPeerStore(peer)
    http = httpx.AsyncClient(transport=httpx.MockTransport(_peer))
    registration = Registration(
        http, store, versions_url="http://kit.test/ocpi/versions", roles=[OWN_ROLE]
    )
    registration.peer = peer
    return registration, store


def _theirs(token: str) -> Credentials:
    return Credentials(token=token, url=PEER_VERSIONS, roles=[HUB_ROLE])


async def test_after_a_put_the_old_token_works_until_the_new_one_is_used() -> None:
    registration, store = _registration()
    lost = await registration.accept(_theirs("b2"), "peer", "PUT")
    # The answer may never have arrived: the peer still holds only "old".
    assert await registration.peer_principal("old") == "peer"
    retried = await registration.accept(_theirs("b3"), "peer", "PUT")
    assert await registration.peer_principal(lost.token) is None  # superseded, never used
    assert await registration.peer_principal("old") == "peer"
    assert await registration.peer_principal(retried.token) == "peer"  # the new one in use...
    assert await registration.peer_principal("old") is None  # ...retires the old one
    assert store.state is not None and store.state.previous_token is None  # and it is kept
    assert store.state.token == "b3"


def test_the_previous_token_survives_a_restart() -> None:
    state = PeerState("t", "new", PEER_VERSIONS, [], [HUB_ROLE], previous_token="old")
    assert PeerState.from_json(state.to_json()).previous_token == "old"
    stored_before = state.to_json()
    del stored_before["previous_token"]  # a state stored before this field existed
    assert PeerState.from_json(stored_before).previous_token is None


class _Service:
    def __init__(self, registration: Registration) -> None:
        self.registration = registration
        self.hubs: list[tuple[str, str] | None] = []

    async def register(self, hub: tuple[str, str] | None = None) -> object:
        self.hubs.append(hub)
        return None


async def test_register_on_request_takes_a_hub_from_the_body() -> None:
    registration, _ = _registration()
    service = _Service(registration)
    with pytest.raises(OperationError, match="already registered"):
        await register_on_request(service, {"versions_url": PEER_VERSIONS, "token_a": "a"})
    registration.peer = None
    await register_on_request(service, {"versions_url": PEER_VERSIONS, "token_a": "a"})
    await register_on_request(service, None)
    assert service.hubs == [(PEER_VERSIONS, "a"), None]
    bodies: list[object] = [
        {"versions_url": PEER_VERSIONS},
        {"token_a": "a", "x": 1, "versions_url": "u"},
        [],
    ]
    for bad in bodies:
        with pytest.raises(OperationError) as caught:
            await register_on_request(service, bad)
        assert caught.value.http_status == 400


async def test_rotate_on_request_puts_new_credentials() -> None:
    registration, store = _registration()
    service = _Service(registration)
    await rotate_on_request(service)
    assert store.state is not None and store.state.token == "from-peer"
    assert store.state.issued_token != "old"
    registration.peer = None
    with pytest.raises(OperationError, match="not registered"):
        await rotate_on_request(service)
