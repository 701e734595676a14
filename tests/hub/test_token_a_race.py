"""A token A registers one platform, even when two registrations use it at the same moment.

Spec credentials: token A is good for one registration. The hub consumes it with a
conditional UPDATE in the registration's own transaction, which only one transaction can win,
on SQLite and on PostgreSQL (the `database_url` fixture runs each test on both).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlmodel import Session, select

from hub.app import create_app
from hub.db import make_engine
from hub.directory import Party, Platform, hash_token
from hub.records import InvitationRecord
from hub.service import Hub
from hub.store import InvitationUsed, Store, utcnow
from ocpi.errors import Unauthorized
from ocpi.headers import PartyRef, encode_authorization
from ocpi.v221.hubclientinfo import ConnectionStatus
from ocpi.v221.types import Role
from ocpi.v221.versions import InterfaceRole
from tests.doubles.member import Member, MemberConfig
from tests.hub.conftest import hub_settings, invite
from tests.network import Network

HUB_VERSIONS = "http://hub.test/ocpi/versions"


class GatedNetwork(Network):
    """Holds the hub's GETs of the members' versions until `width` of them are in flight.

    That is the moment both registrations have been authenticated with the same token A and
    neither has been written yet: the interleaving a real race needs, made certain. (A
    fallback lets a request through after a while, so a design that never lets the second one
    get this far fails on `most_in_flight` instead of hanging.)
    """

    def __init__(self, gated_hosts: set[str], width: int = 2) -> None:
        super().__init__()
        self.gated_hosts = gated_hosts
        self.width = width
        self.in_flight = 0
        self.most_in_flight = 0
        self._all_in = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host not in self.gated_hosts or request.url.path != "/ocpi/versions":
            return await super().handle_async_request(request)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        if self.in_flight >= self.width:
            self._all_in.set()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_in.wait(), timeout=30)
            return await super().handle_async_request(request)
        finally:
            self.in_flight -= 1


def _invitation(store: Store, token_hash: str) -> InvitationRecord:
    with Session(store.engine) as db:
        record = db.exec(
            select(InvitationRecord).where(InvitationRecord.token_hash == token_hash)
        ).one()
        db.expunge(record)
        return record


async def test_one_token_a_used_twice_at_once_registers_one_platform(
    tmp_path: Path, database_url: str
) -> None:
    hosts = {"first.test": PartyRef("DE", "CPA"), "second.test": PartyRef("DE", "CPB")}
    network = GatedNetwork(set(hosts))
    app = create_app(hub_settings(tmp_path, database_url=database_url), http=network.client())
    hub: Hub = app.state.hub
    await hub.start()
    network.add("hub.test", app)
    members = [
        Member(MemberConfig(Role.CPO, party, base_url=f"http://{host}"), http=network.client())
        for host, party in hosts.items()
    ]
    for host, member in zip(hosts, members, strict=True):
        network.add(host, member.app)
    token_a = invite(hub)  # any party may register with it
    try:
        outcomes = await asyncio.gather(
            *(member.register(HUB_VERSIONS, token_a) for member in members),
            return_exceptions=True,
        )
        await hub.drain()
        assert network.most_in_flight == 2, ("both were not in flight at once", outcomes)

        winners = [
            m for m, o in zip(members, outcomes, strict=True) if not isinstance(o, Exception)
        ]
        losers = [m for m, o in zip(members, outcomes, strict=True) if isinstance(o, Exception)]
        assert (len(winners), len(losers)) == (1, 1), outcomes
        [winner], [loser] = winners, losers
        refusal = outcomes[members.index(loser)]

        # The loser got the answer a used token A gets: HTTP 401, status 2000, saying why.
        assert isinstance(refusal, Unauthorized), refusal
        [post] = [sent for sent in loser.sent if sent.method == "POST"]
        assert (post.http_status, post.status_code) == (401, 2000)
        assert "already been used" in (post.error or "")
        assert loser.peer is None and loser.issued_token is None

        # The hub holds exactly the winner: in memory, in the database, in its invitation.
        assert [p.name for p in hub.directory.platforms.values()] == [winner.config.name]
        assert (Role.CPO, loser.party) not in hub.directory.parties
        stored = await asyncio.to_thread(hub.store.load_platforms)
        assert [(p.name, p.token_to_member) for p in stored] == [
            (winner.config.name, winner.issued_token)
        ]
        assert [party.ref for party in stored[0].parties] == [winner.party]
        unhosted = await asyncio.to_thread(hub.store.load_unhosted_parties)
        assert loser.party not in {party.ref for party in unhosted}
        invitation = await asyncio.to_thread(_invitation, hub.store, hash_token(token_a))
        assert invitation.used_at is not None
        assert invitation.platform_id == stored[0].id

        # The winner is connected; the loser's party heard of nothing; token A is dead.
        assert winner.peer is not None
        async with network.client() as client:
            mine = await client.get(
                "http://hub.test/ocpi/2.2.1/credentials",
                headers={"Authorization": encode_authorization(winner.peer.token)},
            )
            again = await client.get(
                HUB_VERSIONS, headers={"Authorization": encode_authorization(token_a)}
            )
        assert mine.status_code == 200
        assert again.status_code == 401
    finally:
        for member in members:
            await member.close()
        await hub.stop()


def _platform(n: int) -> Platform:
    return Platform(
        id=0,
        name=f"Racer {n}",
        versions_url=f"http://racer{n}.test/ocpi/versions",
        token_to_member=f"token-b-{n}",
        token_hash=hash_token(f"token-c-{n}"),
        endpoints={("credentials", InterfaceRole.SENDER): f"http://racer{n}.test/credentials"},
        parties=[
            Party(
                Role.CPO,
                PartyRef("DE", f"CP{n}"),
                ConnectionStatus.CONNECTED,
                utcnow(),
            )
        ],
    )


def test_store_consumes_a_token_a_once_for_concurrent_registrations(database_url: str) -> None:
    """Two threads register with the same invitation at the same moment: one platform."""
    store = Store(make_engine(database_url))
    token_hash = hash_token("token-a")
    store.add_invitation(token_hash, [])
    start = threading.Barrier(2)

    def attempt(n: int) -> Platform:
        platform = _platform(n)
        start.wait()
        return store.register_platform(platform, invitation_hash=token_hash)

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(attempt, n) for n in (1, 2)]
        outcomes = [future.exception() or future.result() for future in futures]
        registered = [o for o in outcomes if isinstance(o, Platform)]
        refused = [o for o in outcomes if not isinstance(o, Platform)]
        assert (len(registered), len(refused)) == (1, 1), outcomes
        assert isinstance(refused[0], InvitationUsed), refused
        assert "already been used" in str(refused[0])
        stored = store.load_platforms()
        assert [(p.id, p.name) for p in stored] == [(registered[0].id, registered[0].name)]
        assert {party.ref for party in stored[0].parties} == {registered[0].parties[0].ref}
        assert store.load_unhosted_parties() == []
        assert _invitation(store, token_hash).platform_id == registered[0].id
        assert store.open_invitation(token_hash) is None
    finally:
        store.engine.dispose()


def test_a_used_token_a_cannot_register_again(database_url: str) -> None:
    store = Store(make_engine(database_url))
    token_hash = hash_token("token-a")
    store.add_invitation(token_hash, [])
    try:
        store.register_platform(_platform(1), invitation_hash=token_hash)
        refused: InvitationUsed | None = None
        try:
            store.register_platform(_platform(2), invitation_hash=token_hash)
        except InvitationUsed as exc:
            refused = exc
        assert refused is not None and "already been used" in str(refused)
        assert [p.name for p in store.load_platforms()] == ["Racer 1"]
    finally:
        store.engine.dispose()


def test_a_token_that_is_no_invitation_cannot_register(database_url: str) -> None:
    store = Store(make_engine(database_url))
    try:
        refused: Exception | None = None
        try:
            store.register_platform(_platform(1), invitation_hash=hash_token("never-invited"))
        except InvitationUsed as exc:
            refused = exc
        assert refused is not None and "not a token A" in str(refused)
        assert store.load_platforms() == []
    finally:
        store.engine.dispose()
