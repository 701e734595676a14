"""The eMSP's link to its hub: the one place that sends (handshake, token pushes, commands,
pulls) and that runs background sends. Every message goes through the hub: TO = the hub for a
broadcast or a pull from its copies, TO = a CPO for that CPO.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TypeVar
from urllib.parse import quote as url_quote

import httpx
from pydantic import BaseModel

from emsp_mock.settings import EmspSettings
from emsp_mock.store import Store
from ocpi.client import OcpiClient
from ocpi.errors import OcpiError
from ocpi.headers import PartyRef
from ocpi.pagination import PageRequest
from ocpi.platform import (
    MemberRuntime,
    OperationError,
    TablePeerStore,
    V211Context,
    member_registration,
)
from ocpi.v221.commands import CommandResponse, CommandType, ReserveNow, StartSession, StopSession
from ocpi.v221.tokens import Token
from ocpi.v221.types import Role
from ocpi.v221.versions import InterfaceRole, ModuleID

log = logging.getLogger("emsp_mock")

M = TypeVar("M", bound=BaseModel)
FUNCTIONAL_BASE = "/ocpi/emsp/2.2.1"


class HubLink:
    """The connection to the hub and the background sends over it (`runtime`)."""

    def __init__(
        self,
        settings: EmspSettings,
        store: Store,
        http: httpx.AsyncClient | None,
        context: V211Context | None = None,
    ) -> None:
        self.party = settings.party
        self.functional_url = settings.public_url + FUNCTIONAL_BASE
        self.runtime = MemberRuntime(http, log)
        self.http = self.runtime.http
        self.registration = member_registration(
            self.http, TablePeerStore(store), settings, Role.EMSP, context
        )

    async def close(self) -> None:
        """Give background sends up to 5 s, cancel the rest, close our own HTTP client."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.runtime.drain(), 5.0)
        await self.runtime.close()

    # --- addressing ---------------------------------------------------------------------------
    def client(self) -> OcpiClient:
        if self.registration.peer is None:
            raise OperationError("not connected to a hub yet", 503)
        return self.registration.client(self.party)

    def url(self, module: ModuleID, role: InterfaceRole, *segments: str) -> str:
        peer = self.registration.peer
        base = peer.endpoint(module, role) if peer is not None else None
        if base is None:
            raise OperationError(f"the hub offers no {module.value} {role.value} interface", 503)
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
            except (OcpiError, httpx.HTTPError, OperationError) as exc:
                log.warning("token %s not broadcast: %s", token.uid, exc)

        self.runtime.spawn(job(), f"token {token.uid}")

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
