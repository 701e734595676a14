"""What a double does on its own initiative, one part per class: the credentials handshake
(both ways), a CPO's pushes and CommandResult callbacks, an eMSP's token pushes and commands."""

import asyncio
import logging
import uuid
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import TypeAdapter

from ocpi.client import OcpiClient
from ocpi.client import OcpiResponse as ClientResponse
from ocpi.errors import OcpiError, PeerProtocolError, UnableToUseClientApi, UnsupportedVersion
from ocpi.headers import PartyRef
from ocpi.server.validation import parse_body
from ocpi.v221 import (
    CDR,
    CommandResponse,
    CommandResult,
    CommandType,
    Credentials,
    Endpoint,
    InterfaceRole,
    Location,
    ModuleID,
    OcpiModel,
    Session,
    SessionPatch,
    StartSession,
    Status,
    StopSession,
    Tariff,
    Token,
    TokenPatch,
    TokenType,
    Version,
    VersionDetails,
    VersionNumber,
)
from ocpi.v221.types import format_datetime
from tests.doubles.member.records import CallbackOutcome, Peer, SentCommand
from tests.doubles.member.rules import (
    apply_session_patch,
    credentials_endpoint,
    index_of,
    join_url,
    merge,
    new_token,
    now,
    stamped,
    token_key,
    token_owner,
)
from tests.doubles.member.state import MemberState

log = logging.getLogger("tests.doubles.member")


class Handshake(MemberState):
    """The credentials module (digest §3.4), as the platform that starts and as the one that
    receives: versions discovery, POST/PUT/DELETE of credentials, token rotation."""

    async def discover(self, versions_url: str, client: OcpiClient) -> list[Endpoint]:
        """GET versions, pick 2.2.1, GET its details (digest §3.4 steps 2-3)."""
        versions = (await self.send("GET", versions_url, routed=False, client=client)).parse(
            TypeAdapter(list[Version])
        )
        chosen = next((v for v in versions if v.version == VersionNumber.V2_2_1), None)
        if chosen is None:
            offered = ", ".join(str(v.version) for v in versions)
            raise UnsupportedVersion(f"{versions_url} offers no 2.2.1 (offers {offered})")
        details = (await self.send("GET", chosen.url, routed=False, client=client)).parse(
            VersionDetails
        )
        return details.endpoints

    async def _offer_credentials(
        self, method: str, url: str, client: OcpiClient | None = None
    ) -> Credentials:
        """POST or PUT our credentials with a new token B; B is issued once the peer answers.

        The hub GETs our versions with B before it answers: B is accepted from the start.
        """
        token_b = new_token()
        self._pending_tokens.add(token_b)
        try:
            response = await self.send(
                method, url, self.own_credentials(token_b), routed=False, client=client
            )
            theirs = response.parse(Credentials)
        finally:
            self._pending_tokens.discard(token_b)
        self.issued_token = token_b
        return theirs

    async def register(
        self, hub_versions_url: str, token_a: str, http: httpx.AsyncClient | None = None
    ) -> Credentials:
        """The member-initiated handshake (digest §3.4): A -> B sent, C received and kept."""
        if http is not None:
            self.http = http
        if self.peer is not None:
            raise RuntimeError("already registered: use update_credentials() or unregister()")
        client_a = OcpiClient(self.require_http(), token_a)
        endpoints = await self.discover(hub_versions_url, client_a)
        credentials_url = credentials_endpoint(endpoints)
        theirs = await self._offer_credentials("POST", credentials_url, client_a)
        self.peer = Peer.of(theirs, endpoints, credentials_url)
        return theirs

    async def update_credentials(self) -> Credentials:
        """PUT credentials: hand the hub a new B, receive a new C (token rotation)."""
        peer = self.require_peer()
        credentials_url = peer.credentials_url or credentials_endpoint(peer.endpoints)
        theirs = await self._offer_credentials("PUT", credentials_url)
        peer.token = theirs.token
        peer.versions_url = theirs.url
        peer.roles = list(theirs.roles)
        return theirs

    async def unregister(self) -> None:
        """DELETE credentials; afterwards neither side's token works."""
        peer = self.require_peer()
        credentials_url = peer.credentials_url or credentials_endpoint(peer.endpoints)
        await self.send("DELETE", credentials_url, routed=False)
        self.forget_peer()

    def forget_peer(self) -> None:
        self.peer = None
        self.issued_token = None

    async def accept_registration(self, theirs: Credentials) -> Credentials:
        """The hub POSTed or PUT its credentials: fetch its endpoints with its token, answer
        with a new token of ours (3001 when its versions/details cannot be fetched)."""
        client = OcpiClient(self.require_http(), theirs.token)
        try:
            endpoints = await self.discover(theirs.url, client)
        except UnsupportedVersion:
            raise
        except OcpiError as exc:
            raise UnableToUseClientApi(
                f"could not fetch versions/details from {theirs.url}: {exc}"
            ) from None
        credentials_url = next(
            (e.url for e in endpoints if e.identifier == ModuleID.CREDENTIALS), None
        )
        issued = new_token()
        self.peer = Peer.of(theirs, endpoints, credentials_url)
        self.issued_token = issued
        self.token_a = None  # spent: spec credentials "token A ... no longer valid"
        return self.own_credentials(issued)


class CpoCalls(MemberState):
    """A CPO double's own calls: store and push its objects to the hub, answer commands."""

    async def push_location(self, location: Location, to: PartyRef | None = None) -> ClientResponse:
        """Store and PUT a Location to the hub's locations RECEIVER (broadcast: TO = hub)."""
        self.add_location(location)
        url = self.hub_receiver_url(
            ModuleID.LOCATIONS, location.country_code, location.party_id, location.id
        )
        return await self.send("PUT", url, location, to=to or self.hub_party)

    async def push_tariff(self, tariff: Tariff, to: PartyRef | None = None) -> ClientResponse:
        """Store and PUT a Tariff to the hub's tariffs RECEIVER (broadcast: TO = hub)."""
        self.add_tariff(tariff)
        url = self.hub_receiver_url(
            ModuleID.TARIFFS, tariff.country_code, tariff.party_id, tariff.id
        )
        return await self.send("PUT", url, tariff, to=to or self.hub_party)

    async def delete_tariff(self, tariff_id: str, to: PartyRef | None = None) -> ClientResponse:
        self.tariffs.pop(self.own_key(tariff_id), None)
        url = self.hub_receiver_url(ModuleID.TARIFFS, *self.own_key(tariff_id))
        return await self.send("DELETE", url, to=to or self.hub_party)

    async def patch_evse_status(
        self,
        location_id: str,
        evse_uid: str,
        status: Status,
        to: PartyRef | None = None,
    ) -> ClientResponse:
        """Set an EVSE's status locally and PATCH `{status, last_updated}` to the hub."""
        location = self.own_location(location_id)
        if location is None:
            raise KeyError(f"{self.party} has no location {location_id}")
        stamp = now()
        evses = list(location.evses or [])
        index = index_of(evses, lambda e: e.uid == evse_uid)
        if index is None:
            raise KeyError(f"location {location_id} has no EVSE {evse_uid}")
        evses[index] = evses[index].model_copy(update={"status": status, "last_updated": stamp})
        self.add_location(location.model_copy(update={"evses": evses, "last_updated": stamp}))
        url = self.hub_receiver_url(
            ModuleID.LOCATIONS, location.country_code, location.party_id, location_id, evse_uid
        )
        body = {"status": status.value, "last_updated": format_datetime(stamp)}
        return await self.send("PATCH", url, body, to=to or self.hub_party)

    async def put_session(self, session: Session, to: PartyRef | None = None) -> ClientResponse:
        """Store and PUT a Session to the eMSP (TO defaults to the owner of its cdr_token)."""
        self.add_session(session)
        url = self.hub_receiver_url(
            ModuleID.SESSIONS, session.country_code, session.party_id, session.id
        )
        return await self.send("PUT", url, session, to=to or token_owner(session))

    async def patch_session(
        self, session_id: str, changes: Mapping[str, Any], to: PartyRef | None = None
    ) -> ClientResponse:
        """Apply `changes` (JSON values; last_updated added when absent) locally and PATCH them."""
        key = self.own_key(session_id)
        current = self.sessions.get(key)
        if current is None:
            raise KeyError(f"{self.party} has no session {session_id}")
        body = stamped(changes)
        self.sessions[key] = apply_session_patch(current, parse_body(SessionPatch, body))
        url = self.hub_receiver_url(ModuleID.SESSIONS, *key)
        return await self.send("PATCH", url, body, to=to or token_owner(current))

    async def post_cdr(self, cdr: CDR, to: PartyRef | None = None) -> str:
        """Store and POST a CDR to the eMSP; returns the `Location` header of the answer."""
        self.add_cdr(cdr)
        url = self.hub_endpoint(ModuleID.CDRS, InterfaceRole.RECEIVER)
        response = await self.send("POST", url, cdr, to=to or token_owner(cdr))
        location = response.headers.get("Location")
        if location is None:
            raise PeerProtocolError(f"the answer to POST {url} has no Location header")
        return str(location)

    async def get_cdr(self, location_url: str, to: PartyRef) -> CDR:
        """GET a CDR back from the URL a CDR POST answered with."""
        return (await self.send("GET", location_url, to=to)).parse(CDR)

    async def post_command_result(self, response_url: str, requester: PartyRef | None) -> None:
        """CPO: after `command_result_delay`, POST the CommandResult to the response_url."""
        await asyncio.sleep(self.command_result_delay)
        result = CommandResult(result=self.command_result)
        outcome = CallbackOutcome(url=response_url, result=result, to=requester, status_code=None)
        try:
            response = await self.send("POST", response_url, result, to=requester)
            outcome.status_code = response.status_code
        except OcpiError as exc:
            outcome.status_code = exc.status_code
            outcome.error = str(exc)
        except Exception as exc:  # a test double must not lose the outcome of a callback
            outcome.error = f"{type(exc).__name__}: {exc}"
            log.exception("CommandResult POST to %s failed", response_url)
        self.command_callbacks.append(outcome)


class EmspCalls(MemberState):
    """An eMSP double's own calls: push and patch its tokens, send commands, await results."""

    async def push_token(self, token: Token, to: PartyRef | None = None) -> ClientResponse:
        """Store and PUT a Token to the hub's tokens RECEIVER (broadcast: TO = hub)."""
        self.add_token(token)
        url = self.hub_receiver_url(ModuleID.TOKENS, token.country_code, token.party_id, token.uid)
        return await self.send(
            "PUT", url, token, to=to or self.hub_party, params={"type": token.type.value}
        )

    async def patch_token(
        self,
        uid: str,
        changes: Mapping[str, Any],
        type: TokenType = TokenType.RFID,
        to: PartyRef | None = None,
    ) -> ClientResponse:
        """Apply `changes` to an own token (e.g. `{"valid": False}`) and PATCH them out."""
        key = token_key(self.party.country_code, self.party.party_id, uid, type)
        current = self.tokens.get(key)
        if current is None:
            raise KeyError(f"{self.party} has no token {uid} of type {type.value}")
        body = stamped(changes)
        patch = parse_body(TokenPatch, body)
        self.tokens[key] = merge(Token, current, patch.model_dump(exclude_unset=True))
        url = self.hub_receiver_url(ModuleID.TOKENS, *self.own_key(uid))
        return await self.send(
            "PATCH", url, body, to=to or self.hub_party, params={"type": type.value}
        )

    async def start_session(
        self,
        location_id: str,
        evse_uid: str | None,
        token: Token,
        to: PartyRef | None = None,
        *,
        connector_id: str | None = None,
        authorization_reference: str | None = None,
    ) -> CommandResponse:
        """POST START_SESSION to the hub's commands RECEIVER (TO = the CPO, FROM = us).

        The response_url is `{commands_url}/START_SESSION/{uid}`; `last_command_uid` names it
        and `wait_for_command_result(uid)` awaits the CPO's answer. `to` defaults to the owner
        of a received location with that id. OCPI errors (e.g. 2003 with a REJECTED response
        in `data`, or the hub's 4xxx) are raised as the matching OcpiError.
        """
        target = to or self._location_owner(location_id)
        uid, response_url = self._new_response_url(CommandType.START_SESSION)
        body = StartSession(
            response_url=response_url,
            token=token,
            location_id=location_id,
            evse_uid=evse_uid,
            connector_id=connector_id,
            authorization_reference=authorization_reference,
        )
        return await self._send_command(uid, CommandType.START_SESSION, body, target)

    async def stop_session(self, session_id: str, to: PartyRef) -> CommandResponse:
        """POST STOP_SESSION to the hub's commands RECEIVER (TO = the CPO)."""
        uid, response_url = self._new_response_url(CommandType.STOP_SESSION)
        body = StopSession(response_url=response_url, session_id=session_id)
        return await self._send_command(uid, CommandType.STOP_SESSION, body, to)

    def _new_response_url(self, command: CommandType) -> tuple[str, str]:
        """A fresh command uid and its response_url, `{commands_url}/{command}/{uid}`."""
        uid = uuid.uuid4().hex[:16]
        return uid, join_url(self.module_url(ModuleID.COMMANDS), command.value, uid)

    async def _send_command(
        self, uid: str, command: CommandType, body: OcpiModel, to: PartyRef
    ) -> CommandResponse:
        sent = SentCommand(uid=uid, command=command, body=body, to=to)
        # Registered before sending: the result may race the synchronous answer.
        self.sent_commands[uid] = sent
        self.last_command_uid = uid
        url = self.hub_receiver_url(ModuleID.COMMANDS, command.value)
        response = await self.send("POST", url, body, to=to)
        sent.response = response.parse(CommandResponse)
        return sent.response

    async def wait_for_command_result(self, uid: str, within: float = 5.0) -> CommandResult:
        """The CommandResult that arrived at the response_url of command `uid`."""
        sent = self.sent_commands[uid]
        await asyncio.wait_for(sent.result_arrived.wait(), within)
        return self.command_results[uid]

    def _location_owner(self, location_id: str) -> PartyRef:
        location = self.find_location(location_id)
        if location is None:
            raise KeyError(f"no location {location_id} received: pass to=PartyRef(...)")
        return PartyRef(location.country_code, location.party_id)
