"""HubClientInfo Receiver of a member platform (spec mod_hub_client_info, digest §2.6).

The hub PUTs a ClientInfo whenever a party's connection status changes. `ClientInfoReceiver`
keeps the latest per (country_code, party_id, role) with the time the party went offline,
persists each one through the service's `save` before the answer, and tells the service what
changed (`on_change`) so that it can send a party that is back what it missed. Everything
runs under the service's state lock. `hubclientinfo_router` serves PUT and GET.

No `from __future__ import annotations`: FastAPI resolves the local Annotated aliases.
"""

import asyncio
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends

from ocpi.errors import NotFound
from ocpi.headers import PartyRef
from ocpi.server import TokenAuth, ocpi_response
from ocpi.server.dependencies import JsonBody
from ocpi.server.responses import OcpiResponse
from ocpi.server.validation import parse_body, same_owner
from ocpi.v221.hubclientinfo import ClientInfo, ConnectionStatus
from ocpi.v221.types import Role

HUBCLIENTINFO_PATH = "/ocpi/2.2.1/hubclientinfo"
"""Where a member's HubClientInfo Receiver lives below its public URL (not routed)."""

PartyKey = tuple[str, str, str]
"""(COUNTRY_CODE, PARTY_ID, role) of a ClientInfo, upper-cased."""


def party_key(info: ClientInfo) -> PartyKey:
    return (info.country_code.upper(), info.party_id.upper(), info.role.value)


@dataclass
class KnownParty:
    """What the hub last said about one party, and since when it has not been CONNECTED."""

    info: ClientInfo
    offline_since: datetime | None = None

    @property
    def key(self) -> PartyKey:
        return party_key(self.info)

    @property
    def connected(self) -> bool:
        return self.info.status is ConnectionStatus.CONNECTED


def came_back(party: KnownParty, previous: KnownParty | None) -> bool:
    """A party known before as not CONNECTED is CONNECTED now (it missed our pushes)."""
    return party.connected and previous is not None and not previous.connected


class ClientInfoReceiver:
    """The parties the hub told us about; `receive` is the PUT, under the service's lock.

    `save(party)` persists one party (run before the answer goes out); `on_change(party,
    previous)` lets the service react (previous is None for a party new to us); `prepare()`
    runs first (a simulation catching up to now). All three run with the lock held.
    """

    def __init__(
        self,
        lock: asyncio.Lock,
        *,
        now: Callable[[], datetime],
        save: Callable[[KnownParty], Awaitable[None]],
        on_change: Callable[[KnownParty, KnownParty | None], Awaitable[None] | None] | None = None,
        prepare: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.lock = lock
        self.now = now
        self.save = save
        self.on_change = on_change
        self.prepare = prepare
        self.parties: dict[PartyKey, KnownParty] = {}

    def load(self, parties: Iterable[KnownParty]) -> None:
        """The parties read from the service's database at start-up."""
        self.parties = {party.key: party for party in parties}

    async def receive(self, info: ClientInfo) -> bool:
        """Keep a ClientInfo the hub pushed; True when the party was not known before."""
        async with self.lock:
            if self.prepare is not None:
                await self.prepare()
            key = party_key(info)
            previous = self.parties.get(key)
            offline_since = None
            if info.status is not ConnectionStatus.CONNECTED:
                offline_since = (previous.offline_since if previous else None) or self.now()
            party = KnownParty(info, offline_since)
            await self.save(party)
            self.parties[key] = party
            if self.on_change is not None:
                reaction = self.on_change(party, previous)
                if reaction is not None:
                    await reaction
            return previous is None

    def find(self, country_code: str, party_id: str) -> ClientInfo | None:
        """The ClientInfo of a party (of its first role we know), for GET."""
        wanted = (country_code.upper(), party_id.upper())
        for party in self.parties.values():
            if party.key[:2] == wanted:
                return party.info
        return None

    def reachable(self, party: PartyRef, roles: Collection[Role]) -> bool:
        """False when the hub said every one of `party`'s roles in `roles` we know of is not
        CONNECTED (digest §2.6: send it nothing); True for a party we know nothing about."""
        wanted = (party.country_code, party.party_id)
        known = [
            p for key, p in self.parties.items() if key[:2] == wanted and Role(key[2]) in roles
        ]
        return not known or any(p.connected for p in known)


def hubclientinfo_router(
    receiver: ClientInfoReceiver, public_url: str, auth: TokenAuth[Literal["peer"]]
) -> APIRouter:
    """HubClientInfo Receiver: `{url}/{country_code}/{party_id}` (configuration module)."""
    router = APIRouter(dependencies=[Depends(auth)])
    path = urlsplit(public_url).path.rstrip("/") + HUBCLIENTINFO_PATH
    path += "/{country_code}/{party_id}"

    @router.put(path)
    async def put_client_info(country_code: str, party_id: str, body: JsonBody) -> OcpiResponse:
        info = parse_body(ClientInfo, body)
        same_owner(country_code, party_id, info)
        created = await receiver.receive(info)
        return ocpi_response(http_status=201 if created else 200)

    @router.get(path)
    async def get_client_info(country_code: str, party_id: str) -> OcpiResponse:
        info = receiver.find(country_code, party_id)
        if info is None:
            raise NotFound(f"no ClientInfo for {country_code}/{party_id}")
        return ocpi_response(info)

    return router
