"""The eMSP's link to its hub: the one place that sends (handshake, token pushes, commands,
pulls) and that runs background sends. Every message goes through the hub: TO = the hub for a
broadcast or a pull from its copies, TO = a CPO for that CPO.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar
from urllib.parse import quote as url_quote

import httpx
from pydantic import BaseModel

from emsp_mock.settings import EmspSettings
from emsp_mock.state import AppError
from emsp_mock.store import Store
from ocpi.client import OcpiClient
from ocpi.errors import OcpiError
from ocpi.headers import PartyRef
from ocpi.pagination import PageRequest
from ocpi.platform import PeerState, Registration
from ocpi.v221.commands import CommandResponse, CommandType, ReserveNow, StartSession, StopSession
from ocpi.v221.credentials import CredentialsRole
from ocpi.v221.locations import BusinessDetails
from ocpi.v221.tokens import Token
from ocpi.v221.types import Role
from ocpi.v221.versions import InterfaceRole, ModuleID

log = logging.getLogger("emsp_mock")

M = TypeVar("M", bound=BaseModel)
FUNCTIONAL_BASE = "/ocpi/emsp/2.2.1"


class _StorePeer:
    """PeerStore over the eMSP's key/value table (tokens kept across restarts)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def load_peer(self) -> PeerState | None:
        raw = await asyncio.to_thread(self.store.get_state, "peer")
        return PeerState.from_json(json.loads(raw)) if raw else None

    async def save_peer(self, state: PeerState | None) -> None:
        value = json.dumps(state.to_json()) if state is not None else None
        await asyncio.to_thread(self.store.set_state, "peer", value)


class HubLink:
    """The connection to the hub and the background sends over it."""

    def __init__(
        self, settings: EmspSettings, store: Store, http: httpx.AsyncClient | None
    ) -> None:
        self.party = settings.party
        self.functional_url = settings.public_url + FUNCTIONAL_BASE
        self._own_http = http is None
        self.http = http or httpx.AsyncClient(timeout=30.0, trust_env=False)
        self.registration = Registration(
            self.http,
            _StorePeer(store),
            versions_url=f"{settings.public_url}/ocpi/versions",
            roles=[
                CredentialsRole(
                    role=Role.EMSP,
                    business_details=BusinessDetails(name=settings.name),
                    country_code=self.party.country_code,
                    party_id=self.party.party_id,
                )
            ],
            token_a=settings.accept_token_a,
        )
        self._tasks: set[asyncio.Task[None]] = set()

    # --- background work ----------------------------------------------------------------------
    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task: asyncio.Task[None] = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until every background send has finished (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Give background sends up to 5 s, cancel the rest, close our own HTTP client."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drain(), 5.0)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._own_http:
            await self.http.aclose()

    async def register_until_done(self, register: Callable[[], Awaitable[object]]) -> None:
        """Retry `register` with a growing pause (up to 60 s) until we are registered."""
        delay = 0.0
        while self.registration.peer is None:
            await asyncio.sleep(delay)
            try:
                await register()
            except (OcpiError, ValueError) as exc:
                log.warning("registration with the hub failed: %s; retrying", exc)
                delay = min(max(delay * 2, 0.25), 60.0)

    # --- addressing ---------------------------------------------------------------------------
    def client(self) -> OcpiClient:
        if self.registration.peer is None:
            raise AppError("not connected to a hub yet", 503)
        return self.registration.client(self.party)

    def url(self, module: ModuleID, role: InterfaceRole, *segments: str) -> str:
        peer = self.registration.peer
        base = peer.endpoint(module, role) if peer is not None else None
        if base is None:
            raise AppError(f"the hub offers no {module.value} {role.value} interface", 503)
        return "/".join([base.rstrip("/"), *(url_quote(s, safe="") for s in segments)])

    @property
    def hub_party(self) -> PartyRef | None:
        peer = self.registration.peer
        return peer.hub_party if peer is not None else None

    # --- messages -----------------------------------------------------------------------------
    def push_token(self, token: Token, to: PartyRef | None) -> None:
        """PUT one token through the hub, in the background: to one CPO, or (None) broadcast
        to every CPO (TO = the hub, digest §2.3b). A failure is logged."""

        async def job() -> None:
            try:
                url = self.url(
                    ModuleID.TOKENS,
                    InterfaceRole.RECEIVER,
                    token.country_code,
                    token.party_id,
                    token.uid,
                )
                await self.client().put(
                    url, token, params={"type": token.type.value}, to=to or self.hub_party
                )
            except (OcpiError, httpx.HTTPError, AppError) as exc:
                log.warning("token %s not broadcast: %s", token.uid, exc)

        self.spawn(job(), f"token {token.uid}")

    async def post_command(
        self, kind: CommandType, body: StartSession | StopSession | ReserveNow, to: PartyRef
    ) -> CommandResponse:
        """POST a command to the hub's Commands Receiver with TO = the CPO; its answer."""
        url = self.url(ModuleID.COMMANDS, InterfaceRole.RECEIVER, kind.value)
        answer = await self.client().post(url, body, to=to)
        return answer.parse(CommandResponse)

    async def pull(self, module: ModuleID, model: type[M], page: PageRequest) -> list[M]:
        """A paginated GET-all from the hub with TO = the hub (answered from its copies)."""
        url = self.url(module, InterfaceRole.SENDER)
        return await self.client().get_all(url, model, page, to=self.hub_party)
