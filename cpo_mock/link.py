"""The CPO's link to its hub: the one place where anything is sent, and where sending fails.

Every outbound message is a `Message` (method, the hub's module interface or an absolute
URL, body, TO party) queued in the outbox, so that messages leave in the order the state
changed. `send` resolves the client and URL, refuses a party the hub said is not CONNECTED,
retries what may be retried, and turns every failure into an `Outcome`; the caller's `then`
decides what a failure means (a Session to PUT in full, a CDR to retry with backoff...).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from cpo_mock.outbox import Outbox
from ocpi.client import OcpiClient
from ocpi.errors import ClientError, ConnectionProblem, OcpiError, PeerTimeout, PeerUnreachable
from ocpi.headers import PartyRef
from ocpi.platform import PeerState, Registration
from ocpi.v221.tokens import AuthorizationInfo, LocationReferences, TokenType
from ocpi.v221.versions import InterfaceRole, ModuleID

log = logging.getLogger("cpo_mock")

BROADCAST_ATTEMPTS = 3
BROADCAST_RETRY_DELAY = 0.5
"""Real seconds before the second try of a broadcast (x4 before the third)."""
NOT_CONNECTED = "not connected to a hub"


@dataclass(frozen=True)
class Message:
    """One request to send through the hub."""

    method: str
    module: ModuleID | None
    """The hub's RECEIVER interface of this module; None: `url` is the whole address (a
    response_url: the answer to a request the party just made, sent whatever its status)."""
    segments: tuple[str, ...] = ()
    body: Any = None
    to: PartyRef | None = None
    """The receiving party (None with a `url`: no TO header)."""
    url: str = ""
    broadcast: bool = False
    """TO = the hub (digest §2.3b). Broadcasts are PUT/PATCH, idempotent: a dropped
    connection or a timeout is tried again."""

    def __str__(self) -> str:
        what = self.module.value if self.module is not None else self.url
        return f"{self.method} {what} {'/'.join(self.segments)}".rstrip()


@dataclass(frozen=True)
class Outcome:
    """What became of a Message: error "" when it was delivered."""

    error: str = ""
    refused: bool = False
    """The receiver read it and refused it (OCPI 2xxx): sending it again cannot help."""
    unsent: bool = False
    """It never left: no hub, no such interface, or the receiver is not CONNECTED."""
    location: str = ""
    """The answer's Location header (a CDR's URL at the eMSP)."""

    @property
    def ok(self) -> bool:
        return not self.error


Then = Callable[[Outcome], Awaitable[None]]


class HubLink:
    """Sends the CPO's messages to its hub, in order, one way."""

    def __init__(
        self,
        registration: Registration,
        party: PartyRef,
        outbox: Outbox,
        reachable: Callable[[PartyRef], bool],
    ) -> None:
        self.registration = registration
        self.party = party
        self.outbox = outbox
        self.reachable = reachable
        self._client: tuple[PeerState, OcpiClient] | None = None
        """The client of the current connection (a new one when the connection changes)."""

    @property
    def hub_party(self) -> PartyRef | None:
        peer = self.registration.peer
        return peer.hub_party if peer is not None else None

    def client(self) -> OcpiClient | None:
        peer = self.registration.peer
        if peer is None:
            return None
        if self._client is None or self._client[0] is not peer:
            self._client = (peer, self.registration.client(self.party))
        return self._client[1]

    def url(self, module: ModuleID, role: InterfaceRole, *segments: str) -> str | None:
        """The hub's URL of a module interface with `segments` appended (quoted)."""
        peer = self.registration.peer
        base = peer.endpoint(module, role) if peer is not None else None
        if base is None:
            return None
        return "/".join([base.rstrip("/"), *(quote(s, safe="") for s in segments)])

    def queue(
        self,
        name: str,
        message: Message,
        then: Then | None = None,
        after: asyncio.Future[None] | None = None,
    ) -> None:
        """Send `message` in order (cpo_mock/outbox.py): a broadcast of a location or a
        tariff after the earlier messages about that object (its PUT and PATCHes), anything
        else after everything queued before it; `then` gets its Outcome. With `after` (the
        write of the change it announces), not before that is done, and not at all if it
        failed."""

        async def job() -> None:
            if after is not None:
                if not after.done():
                    await asyncio.wait([after])
                if after.cancelled() or after.exception() is not None:
                    log.warning("%s not sent: the change it announces was not stored", message)
                    return
            outcome = await self.send(message)
            if then is not None:
                await then(outcome)

        key = None
        if message.broadcast and message.module in (ModuleID.LOCATIONS, ModuleID.TARIFFS):
            key = (message.module.value, message.segments[2])  # (cc, party, object id, ...)
        self.outbox.put(name, job, key)

    def barrier(self, name: str) -> None:
        """Nothing queued after this starts before everything queued before it is done."""

        async def nothing() -> None:
            return None

        self.outbox.put(name, nothing)

    async def send(self, message: Message) -> Outcome:
        client = self.client()
        if message.module is None:
            url: str | None = message.url
        else:
            url = self.url(message.module, InterfaceRole.RECEIVER, *message.segments)
        if client is None or url is None:
            return Outcome(NOT_CONNECTED, unsent=True)
        to = self.hub_party if message.broadcast else message.to
        checked = message.module is not None and not message.broadcast
        if checked and to is not None and not self.reachable(to):
            return Outcome(f"{to} is not CONNECTED", unsent=True)
        attempts = BROADCAST_ATTEMPTS if message.broadcast else 1
        for attempt in range(attempts):
            try:
                answer = await client.request(message.method, url, json_body=message.body, to=to)
                return Outcome(location=answer.headers.get("Location", ""))
            except (PeerUnreachable, PeerTimeout) as exc:
                # PUT and PATCH are idempotent: a dropped connection or a timeout (a hub busy
                # with a large sync) is worth another try; an OCPI error is not.
                if attempt + 1 == attempts:
                    return Outcome(str(exc))
                await asyncio.sleep(BROADCAST_RETRY_DELAY * 4**attempt)
            except ClientError as exc:
                return Outcome(str(exc), refused=True)
            except (OcpiError, httpx.HTTPError) as exc:
                return Outcome(str(exc))
        raise AssertionError("unreachable")  # pragma: no cover

    def broadcast(
        self,
        method: str,
        module: ModuleID,
        segments: tuple[str, ...],
        body: Any,
        after: asyncio.Future[None] | None = None,
        answered: Callable[[], None] | None = None,
        lost: Callable[[], None] | None = None,
    ) -> None:
        """PUT/PATCH to the hub with TO = the hub (a broadcast, digest §2.3b); with `after`,
        once that write is done (`queue`). `answered` is called when the hub answered it,
        accepted or refused (either way, sending it again cannot help); `lost` when it was
        not answered after every attempt, or never left."""
        message = Message(method, module, segments, body, broadcast=True)

        async def then(outcome: Outcome) -> None:
            if outcome.ok or outcome.refused:
                if answered is not None:
                    answered()
            elif lost is not None:
                lost()
            if outcome.unsent:
                log.debug("not connected to a hub: %s %s not pushed", method, module.value)
            elif not outcome.ok:
                log.warning("%s %s %s failed: %s", method, module.value, segments, outcome.error)

        self.queue(f"{method} {module.value}", message, then, after)

    def direct(
        self, method: str, module: ModuleID, segments: tuple[str, ...], body: Any, to: PartyRef
    ) -> None:
        """PUT to one party through the hub (TO = that party): re-sync after an outage."""

        async def then(outcome: Outcome) -> None:
            if not outcome.ok and not outcome.unsent:
                log.warning(
                    "re-sync %s %s to %s failed: %s", method, module.value, to, outcome.error
                )

        self.queue(
            f"{method} {module.value} to {to}", Message(method, module, segments, body, to), then
        )

    async def authorize(
        self, uid: str, type: TokenType, owner: PartyRef | None, location_id: str, evse_uid: str
    ) -> AuthorizationInfo:
        """Real-time authorization through the hub (spec mod_tokens `authorize`), at once (a
        driver waits at the charger): TO = the token's eMSP when known, else open routing."""
        client = self.client()
        url = self.url(ModuleID.TOKENS, InterfaceRole.SENDER, uid, "authorize")
        if client is None or url is None:
            raise ConnectionProblem(NOT_CONNECTED)
        references = LocationReferences(location_id=location_id, evse_uids=[evse_uid])
        answer = await client.post(url, references, to=owner, params={"type": type.value})
        return answer.parse(AuthorizationInfo)
