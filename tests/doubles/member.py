"""A test double: a minimal, independent OCPI 2.2.1 member platform (one CPO or one eMSP).

The hub's integration tests use it as "a CPO and an eMSP that nobody in this project wrote".
It imports only `ocpi` and libraries (never hub, cpo_mock, emsp_mock or roam), stores what it
receives, records every request (`Member.received`) and every call it makes (`Member.sent`),
and runs in-process (`Member.app` behind httpx.ASGITransport) or as a process:

    python -m tests.doubles.member --role CPO --party DE/CPB --port 8101 [--base-url ...]

No `from __future__ import annotations`: FastAPI resolves the local `Annotated` aliases below.
"""

import argparse
import asyncio
import json
import logging
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ocpi.client import OcpiClient
from ocpi.client import OcpiResponse as ClientResponse
from ocpi.errors import (
    InvalidParameters,
    MethodNotAllowed,
    NoMatchingEndpoints,
    NotFound,
    OcpiError,
    PeerProtocolError,
    UnableToUseClientApi,
    UnknownToken,
    UnsupportedVersion,
)
from ocpi.headers import (
    OCPI_FROM_COUNTRY_CODE,
    OCPI_FROM_PARTY_ID,
    OCPI_TO_COUNTRY_CODE,
    OCPI_TO_PARTY_ID,
    ROUTING_HEADERS,
    PartyRef,
    RoutingHeaders,
    token_candidates,
)
from ocpi.pagination import PageRequest, page_headers, paginate
from ocpi.server import TokenAuth, ocpi_app, ocpi_response, page_request, routing_headers
from ocpi.server.errors import describe_errors
from ocpi.server.responses import OcpiResponse
from ocpi.status import OcpiStatus
from ocpi.v221 import (
    CDR,
    EVSE,
    AllowedType,
    AuthorizationInfo,
    BusinessDetails,
    CancelReservation,
    ClientInfo,
    CommandResponse,
    CommandResponseType,
    CommandResult,
    CommandResultType,
    CommandType,
    Connector,
    ConnectorPatch,
    Credentials,
    CredentialsRole,
    Endpoint,
    EVSEPatch,
    InterfaceRole,
    Location,
    LocationPatch,
    LocationReferences,
    ModuleID,
    OcpiModel,
    ReserveNow,
    Role,
    Session,
    SessionPatch,
    StartSession,
    Status,
    StopSession,
    Tariff,
    Token,
    TokenPatch,
    TokenType,
    UnlockConnector,
    Version,
    VersionDetails,
    VersionNumber,
)
from ocpi.v221.types import format_datetime

log = logging.getLogger("tests.doubles.member")

M = TypeVar("M", bound=OcpiModel)
T = TypeVar("T")

Key = tuple[str, str, str]
"""(country_code, party_id, object id) of a stored object; cc/pid upper-cased (CiString)."""
TokenKey = tuple[str, str, str, str]
"""(country_code, party_id, uid, type) of a stored Token: (uid, type) is unique per eMSP."""

Principal = Literal["token_a", "peer"]

# Which interface of each module the double publishes (digest §2.1 / §3.5 non-normative table).
CPO_INTERFACES: tuple[tuple[ModuleID, InterfaceRole], ...] = (
    (ModuleID.CREDENTIALS, InterfaceRole.SENDER),
    (ModuleID.LOCATIONS, InterfaceRole.SENDER),
    (ModuleID.TARIFFS, InterfaceRole.SENDER),
    (ModuleID.SESSIONS, InterfaceRole.SENDER),
    (ModuleID.CDRS, InterfaceRole.SENDER),
    (ModuleID.TOKENS, InterfaceRole.RECEIVER),
    (ModuleID.COMMANDS, InterfaceRole.RECEIVER),
    (ModuleID.HUBCLIENTINFO, InterfaceRole.RECEIVER),
)
EMSP_INTERFACES: tuple[tuple[ModuleID, InterfaceRole], ...] = (
    (ModuleID.CREDENTIALS, InterfaceRole.SENDER),
    (ModuleID.LOCATIONS, InterfaceRole.RECEIVER),
    (ModuleID.TARIFFS, InterfaceRole.RECEIVER),
    (ModuleID.SESSIONS, InterfaceRole.RECEIVER),
    (ModuleID.CDRS, InterfaceRole.RECEIVER),
    (ModuleID.TOKENS, InterfaceRole.SENDER),
    (ModuleID.COMMANDS, InterfaceRole.SENDER),
    (ModuleID.HUBCLIENTINFO, InterfaceRole.RECEIVER),
)

_COMMAND_BODIES: dict[CommandType, type[OcpiModel]] = {
    CommandType.START_SESSION: StartSession,
    CommandType.STOP_SESSION: StopSession,
    CommandType.RESERVE_NOW: ReserveNow,
    CommandType.CANCEL_RESERVATION: CancelReservation,
    CommandType.UNLOCK_CONNECTOR: UnlockConnector,
}


# --- configuration and records ------------------------------------------------------------
@dataclass(frozen=True)
class MemberConfig:
    """Who the double is and how it behaves.

    `base_url` is the public root; its path (if any) prefixes every route, so several doubles
    can share one host. `strict_routing` makes functional requests without OCPI-to/-from
    headers, or addressed to another party, fail with 2001 (a hub must always set them).
    """

    role: Role
    party: PartyRef
    name: str = ""
    base_url: str = "http://member.test"
    page_limit: int = 2
    command_timeout: int = 30
    command_result_delay: float = 0.05
    strict_routing: bool = True

    def __post_init__(self) -> None:
        if self.role not in (Role.CPO, Role.EMSP):
            raise ValueError(f"the double plays CPO or EMSP, not {self.role}")
        if self.page_limit < 1:
            raise ValueError("page_limit must be at least 1")
        if not self.name:
            object.__setattr__(self, "name", f"Test double {self.role.value} {self.party}")


@dataclass
class RecordedRequest:
    """One request that reached the double, as it arrived (header names lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    body: Any
    raw_body: bytes = b""
    http_status: int | None = None
    """The HTTP status of the double's answer, filled in when the answer starts."""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def routing(self) -> RoutingHeaders:
        return RoutingHeaders.parse(httpx.Headers(self.headers))

    @property
    def token(self) -> str | None:
        """The credentials token of the Authorization header (Base64-decoded), if any."""
        try:
            return token_candidates(self.header("authorization"))[0]
        except ValueError:
            return None


@dataclass
class SentRequest:
    """One call the double made, with the outcome."""

    method: str
    url: str
    to: PartyRef | None
    body: Any
    http_status: int | None = None
    status_code: int | None = None
    error: str | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    request_id: str | None = None
    correlation_id: str | None = None


@dataclass
class Peer:
    """The platform the double is connected to (the hub): how to call it, who it says it is."""

    token: str
    """The token the double sends (token C, or the token the hub sent in its own POST)."""
    versions_url: str
    endpoints: list[Endpoint]
    roles: list[CredentialsRole]
    credentials_url: str | None


@dataclass
class SentCommand:
    """A command the eMSP double sent, awaiting its CommandResult at `response_url`."""

    uid: str
    command: CommandType
    body: OcpiModel
    to: PartyRef
    response: CommandResponse | None = None
    result_arrived: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class ReceivedCommand:
    """A command the CPO double received."""

    command: CommandType
    body: OcpiModel
    requester: PartyRef | None
    response: CommandResponse | None = None


@dataclass
class CallbackOutcome:
    """A CommandResult the CPO double POSTed to a response_url, and how that went."""

    url: str
    result: CommandResult
    to: PartyRef | None
    status_code: int | None
    error: str | None = None


def object_key(country_code: str, party_id: str, id: str) -> Key:
    return (country_code.upper(), party_id.upper(), id)


def token_key(country_code: str, party_id: str, uid: str, type: TokenType | str) -> TokenKey:
    return (country_code.upper(), party_id.upper(), uid, TokenType(type).value)


def new_token() -> str:
    """A fresh credentials token: printable, non-whitespace ASCII, 32 characters."""
    return secrets.token_urlsafe(24)


def now() -> datetime:
    """The current time at millisecond precision, so what is stored equals what is sent."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def join_url(base: str, *parts: str) -> str:
    """`base` + "/" + each part percent-encoded; tolerant of a trailing slash on `base`."""
    return "/".join([base.rstrip("/"), *(quote(part, safe="") for part in parts)])


class HostRouter(httpx.AsyncBaseTransport):
    """An httpx transport that hands each request to the in-process app of its host.

    `HostRouter({"http://hub.test": hub_app, "http://cpo.test": member.app})` lets a hub and
    several doubles call each other inside one event loop; an unknown host is a ConnectError,
    as an unreachable platform would be.
    """

    def __init__(self, apps: Mapping[str, ASGIApp] | None = None) -> None:
        self._transports: dict[str, httpx.ASGITransport] = {}
        for url, app in (apps or {}).items():
            self.add(url, app)

    def add(self, url: str, app: ASGIApp) -> None:
        """Route requests for the host (and port) of `url` to `app`."""
        netloc = urlsplit(url).netloc or url
        self._transports[netloc.lower()] = httpx.ASGITransport(app=app, raise_app_exceptions=False)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        netloc = request.url.netloc.decode("ascii").lower()
        transport = self._transports.get(netloc)
        if transport is None:
            raise httpx.ConnectError(f"no in-process app serves {netloc}", request=request)
        return await transport.handle_async_request(request)


# --- the member ---------------------------------------------------------------------------
class Member:
    """State and behaviour of one double. `member.app` is its ASGI application.

    Stored objects (dicts keyed by `object_key` / `token_key`): for a CPO they are its own
    (what it serves on its Sender interfaces), for an eMSP what it received, plus its own
    tokens. `http` is the httpx client used for every outbound call; tests hand in one over
    ASGITransport / MockTransport, a process creates a real one.
    """

    def __init__(self, config: MemberConfig, http: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.http = http
        self.party = config.party
        self.role = config.role
        self.base_url = config.base_url.rstrip("/")
        self.base_path = urlsplit(self.base_url).path.rstrip("/")

        self.locations: dict[Key, Location] = {}
        self.tariffs: dict[Key, Tariff] = {}
        self.sessions: dict[Key, Session] = {}
        self.cdrs: dict[Key, CDR] = {}
        self.tokens: dict[TokenKey, Token] = {}
        self.client_info: dict[tuple[str, str], ClientInfo] = {}
        self.cdr_urls: dict[str, Key] = {}
        """eMSP: the last path segment of each Location header handed out -> stored CDR."""

        self.sent_commands: dict[str, SentCommand] = {}
        self.last_command_uid: str | None = None
        self.command_results: dict[str, CommandResult] = {}
        self.commands_received: list[ReceivedCommand] = []
        self.command_callbacks: list[CallbackOutcome] = []
        self.authorizations: list[AuthorizationInfo] = []
        self.command_result: CommandResultType = CommandResultType.ACCEPTED
        """CPO: what the next CommandResult says."""
        self.command_result_delay = config.command_result_delay

        self.received: list[RecordedRequest] = []
        self.sent: list[SentRequest] = []

        self.peer: Peer | None = None
        self.token_a: str | None = None
        self.issued_token: str | None = None
        """The token the peer uses to call the double (B, or the one issued on POST)."""
        self._pending_tokens: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.app = build_app(self)

    # --- identity and URLs --------------------------------------------------------------
    @property
    def interfaces(self) -> tuple[tuple[ModuleID, InterfaceRole], ...]:
        return CPO_INTERFACES if self.role is Role.CPO else EMSP_INTERFACES

    @property
    def versions_url(self) -> str:
        return f"{self.base_url}/ocpi/versions"

    @property
    def details_url(self) -> str:
        return f"{self.base_url}/ocpi/2.2.1"

    @property
    def credentials_url(self) -> str:
        return f"{self.details_url}/credentials"

    def module_url(self, module: ModuleID) -> str:
        if module is ModuleID.CREDENTIALS:
            return self.credentials_url
        segment = "cpo" if self.role is Role.CPO else "emsp"
        return f"{self.base_url}/ocpi/{segment}/2.2.1/{module.value}"

    def module_path(self, module: ModuleID) -> str:
        return urlsplit(self.module_url(module)).path

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint(identifier=module, role=role, url=self.module_url(module))
            for module, role in self.interfaces
        ]

    def own_credentials(self, token: str) -> Credentials:
        return Credentials(
            token=token,
            url=self.versions_url,
            roles=[
                CredentialsRole(
                    role=self.role,
                    business_details=BusinessDetails(name=self.config.name),
                    party_id=self.party.party_id,
                    country_code=self.party.country_code,
                )
            ],
        )

    # --- tokens -------------------------------------------------------------------------
    def accept_token_a(self, token: str) -> None:
        """Let a hub start the handshake (POST credentials) with this token A."""
        self.token_a = token

    async def principal(self, token: str) -> Principal | None:
        """Who a credentials token stands for, or None (401)."""
        if token in self._pending_tokens or (
            self.issued_token is not None and secrets.compare_digest(token, self.issued_token)
        ):
            return "peer"
        if self.token_a is not None and secrets.compare_digest(token, self.token_a):
            return "token_a"
        return None

    async def peer_principal(self, token: str) -> Literal["peer"] | None:
        """Functional modules accept only the token the double issued (token A gets 401)."""
        return "peer" if await self.principal(token) == "peer" else None

    @property
    def is_registered(self) -> bool:
        return self.peer is not None

    def require_peer(self) -> Peer:
        if self.peer is None:
            raise RuntimeError(f"{self.config.name} is not registered with a hub yet")
        return self.peer

    def require_http(self) -> httpx.AsyncClient:
        if self.http is None:
            raise RuntimeError(f"{self.config.name} has no httpx client: pass http=")
        return self.http

    @property
    def hub_party(self) -> PartyRef:
        """The hub's party, read from the HUB role of its credentials (digest §2.7)."""
        peer = self.require_peer()
        for entry in peer.roles:
            if entry.role is Role.HUB:
                return PartyRef(entry.country_code, entry.party_id)
        if len(peer.roles) == 1:
            return PartyRef(peer.roles[0].country_code, peer.roles[0].party_id)
        raise RuntimeError("the peer's credentials list no HUB role")

    def hub_endpoint(self, module: ModuleID, role: InterfaceRole | None = None) -> str:
        """The URL of one of the hub's interfaces, from the version details it published."""
        peer = self.require_peer()
        for endpoint in peer.endpoints:
            if endpoint.identifier == module and (role is None or endpoint.role is role):
                return endpoint.url
        offered = ", ".join(f"{e.identifier}/{e.role.value}" for e in peer.endpoints)
        wanted = f"{module.value}/{role.value}" if role else module.value
        raise NoMatchingEndpoints(f"the hub offers no {wanted} endpoint (it offers {offered})")

    def client(self, token: str | None = None) -> OcpiClient:
        """An OcpiClient to the peer, with token C and FROM = this party."""
        return OcpiClient(
            self.require_http(), token or self.require_peer().token, from_party=self.party
        )

    # --- outbound calls -----------------------------------------------------------------
    async def send(
        self,
        method: str,
        url: str,
        body: Any = None,
        *,
        to: PartyRef | None = None,
        routed: bool = True,
        params: Mapping[str, str] | None = None,
        client: OcpiClient | None = None,
    ) -> ClientResponse:
        """One OCPI request, recorded in `sent`; raises the peer's OcpiError like the client."""
        record = SentRequest(
            method=method,
            url=url,
            to=to if routed else None,
            body=body.to_json() if isinstance(body, OcpiModel) else body,
        )
        self.sent.append(record)
        try:
            response = await (client or self.client()).request(
                method, url, json_body=body, to=to, routed=routed, params=params
            )
        except OcpiError as exc:
            record.http_status = exc.http_status
            record.status_code = exc.status_code
            record.error = str(exc)
            raise
        record.http_status = response.http_status
        record.status_code = response.status_code
        record.response_headers = dict(response.headers)
        record.request_id = response.request_id
        record.correlation_id = response.correlation_id
        return response

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

    # --- credentials, as the platform that starts -----------------------------------------
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
        credentials_url = _credentials_endpoint(endpoints)
        token_b = new_token()
        # The hub GETs our versions with B before it answers the POST: accept B from now on.
        self._pending_tokens.add(token_b)
        try:
            response = await self.send(
                "POST",
                credentials_url,
                self.own_credentials(token_b),
                routed=False,
                client=client_a,
            )
            theirs = response.parse(Credentials)
        finally:
            self._pending_tokens.discard(token_b)
        self.issued_token = token_b
        self.peer = Peer(
            token=theirs.token,
            versions_url=theirs.url,
            endpoints=endpoints,
            roles=list(theirs.roles),
            credentials_url=credentials_url,
        )
        return theirs

    async def update_credentials(self) -> Credentials:
        """PUT credentials: hand the hub a new B, receive a new C (token rotation)."""
        peer = self.require_peer()
        credentials_url = peer.credentials_url or _credentials_endpoint(peer.endpoints)
        token_b = new_token()
        self._pending_tokens.add(token_b)
        try:
            response = await self.send(
                "PUT", credentials_url, self.own_credentials(token_b), routed=False
            )
            theirs = response.parse(Credentials)
        finally:
            self._pending_tokens.discard(token_b)
        self.issued_token = token_b
        peer.token = theirs.token
        peer.versions_url = theirs.url
        peer.roles = list(theirs.roles)
        return theirs

    async def unregister(self) -> None:
        """DELETE credentials; afterwards neither side's token works."""
        peer = self.require_peer()
        credentials_url = peer.credentials_url or _credentials_endpoint(peer.endpoints)
        await self.send("DELETE", credentials_url, routed=False)
        self.forget_peer()

    def forget_peer(self) -> None:
        self.peer = None
        self.issued_token = None

    # --- credentials, as the platform that receives ---------------------------------------
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
        self.peer = Peer(
            token=theirs.token,
            versions_url=theirs.url,
            endpoints=endpoints,
            roles=list(theirs.roles),
            credentials_url=credentials_url,
        )
        self.issued_token = issued
        self.token_a = None  # spent: spec credentials "token A ... no longer valid"
        return self.own_credentials(issued)

    # --- local state helpers ------------------------------------------------------------
    def add_location(self, location: Location) -> None:
        self.locations[object_key(location.country_code, location.party_id, location.id)] = location

    def add_tariff(self, tariff: Tariff) -> None:
        self.tariffs[object_key(tariff.country_code, tariff.party_id, tariff.id)] = tariff

    def add_session(self, session: Session) -> None:
        self.sessions[object_key(session.country_code, session.party_id, session.id)] = session

    def add_cdr(self, cdr: CDR) -> None:
        self.cdrs[object_key(cdr.country_code, cdr.party_id, cdr.id)] = cdr

    def add_token(self, token: Token) -> None:
        key = token_key(token.country_code, token.party_id, token.uid, token.type)
        self.tokens[key] = token

    def own_location(self, location_id: str) -> Location | None:
        return self.locations.get(
            object_key(self.party.country_code, self.party.party_id, location_id)
        )

    def find_location(self, location_id: str) -> Location | None:
        """A stored location by id, whoever owns it."""
        return next((loc for key, loc in self.locations.items() if key[2] == location_id), None)

    def find_received(self, method: str | None = None, path: str = "") -> list[RecordedRequest]:
        """Recorded requests with this method (any if None) whose path contains `path`."""
        return [
            r
            for r in self.received
            if (method is None or r.method == method.upper()) and path in r.path
        ]

    # --- CPO helpers: push to the hub ---------------------------------------------------
    async def push_location(self, location: Location, to: PartyRef | None = None) -> ClientResponse:
        """Store and PUT a Location to the hub's locations RECEIVER (broadcast: TO = hub)."""
        self.add_location(location)
        url = join_url(
            self.hub_endpoint(ModuleID.LOCATIONS, InterfaceRole.RECEIVER),
            location.country_code,
            location.party_id,
            location.id,
        )
        return await self.send("PUT", url, location, to=to or self.hub_party)

    async def push_tariff(self, tariff: Tariff, to: PartyRef | None = None) -> ClientResponse:
        """Store and PUT a Tariff to the hub's tariffs RECEIVER (broadcast: TO = hub)."""
        self.add_tariff(tariff)
        url = join_url(
            self.hub_endpoint(ModuleID.TARIFFS, InterfaceRole.RECEIVER),
            tariff.country_code,
            tariff.party_id,
            tariff.id,
        )
        return await self.send("PUT", url, tariff, to=to or self.hub_party)

    async def delete_tariff(self, tariff_id: str, to: PartyRef | None = None) -> ClientResponse:
        self.tariffs.pop(object_key(self.party.country_code, self.party.party_id, tariff_id), None)
        url = join_url(
            self.hub_endpoint(ModuleID.TARIFFS, InterfaceRole.RECEIVER),
            self.party.country_code,
            self.party.party_id,
            tariff_id,
        )
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
        index = _index_of(evses, lambda e: e.uid == evse_uid)
        if index is None:
            raise KeyError(f"location {location_id} has no EVSE {evse_uid}")
        evses[index] = evses[index].model_copy(update={"status": status, "last_updated": stamp})
        self.add_location(location.model_copy(update={"evses": evses, "last_updated": stamp}))
        url = join_url(
            self.hub_endpoint(ModuleID.LOCATIONS, InterfaceRole.RECEIVER),
            location.country_code,
            location.party_id,
            location_id,
            evse_uid,
        )
        body = {"status": status.value, "last_updated": format_datetime(stamp)}
        return await self.send("PATCH", url, body, to=to or self.hub_party)

    async def put_session(self, session: Session, to: PartyRef | None = None) -> ClientResponse:
        """Store and PUT a Session to the eMSP (TO defaults to the owner of its cdr_token)."""
        self.add_session(session)
        url = join_url(
            self.hub_endpoint(ModuleID.SESSIONS, InterfaceRole.RECEIVER),
            session.country_code,
            session.party_id,
            session.id,
        )
        return await self.send("PUT", url, session, to=to or _token_owner(session))

    async def patch_session(
        self, session_id: str, changes: Mapping[str, Any], to: PartyRef | None = None
    ) -> ClientResponse:
        """Apply `changes` (JSON values; last_updated added when absent) locally and PATCH them."""
        key = object_key(self.party.country_code, self.party.party_id, session_id)
        current = self.sessions.get(key)
        if current is None:
            raise KeyError(f"{self.party} has no session {session_id}")
        body = dict(changes)
        body.setdefault("last_updated", format_datetime(now()))
        patch = parse_body(SessionPatch, body)
        self.sessions[key] = apply_session_patch(current, patch)
        url = join_url(
            self.hub_endpoint(ModuleID.SESSIONS, InterfaceRole.RECEIVER),
            self.party.country_code,
            self.party.party_id,
            session_id,
        )
        return await self.send("PATCH", url, body, to=to or _token_owner(current))

    async def post_cdr(self, cdr: CDR, to: PartyRef | None = None) -> str:
        """Store and POST a CDR to the eMSP; returns the `Location` header of the answer."""
        self.add_cdr(cdr)
        url = self.hub_endpoint(ModuleID.CDRS, InterfaceRole.RECEIVER)
        response = await self.send("POST", url, cdr, to=to or _token_owner(cdr))
        location = response.headers.get("Location")
        if location is None:
            raise PeerProtocolError(f"the answer to POST {url} has no Location header")
        return str(location)

    async def get_cdr(self, location_url: str, to: PartyRef) -> CDR:
        """GET a CDR back from the URL a CDR POST answered with."""
        return (await self.send("GET", location_url, to=to)).parse(CDR)

    # --- eMSP helpers -------------------------------------------------------------------
    async def push_token(self, token: Token, to: PartyRef | None = None) -> ClientResponse:
        """Store and PUT a Token to the hub's tokens RECEIVER (broadcast: TO = hub)."""
        self.add_token(token)
        url = join_url(
            self.hub_endpoint(ModuleID.TOKENS, InterfaceRole.RECEIVER),
            token.country_code,
            token.party_id,
            token.uid,
        )
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
        body = dict(changes)
        body.setdefault("last_updated", format_datetime(now()))
        patch = parse_body(TokenPatch, body)
        self.tokens[key] = merge(Token, current, patch.model_dump(exclude_unset=True))
        url = join_url(
            self.hub_endpoint(ModuleID.TOKENS, InterfaceRole.RECEIVER),
            self.party.country_code,
            self.party.party_id,
            uid,
        )
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
        uid = uuid.uuid4().hex[:16]
        body = StartSession(
            response_url=join_url(
                self.module_url(ModuleID.COMMANDS), CommandType.START_SESSION.value, uid
            ),
            token=token,
            location_id=location_id,
            evse_uid=evse_uid,
            connector_id=connector_id,
            authorization_reference=authorization_reference,
        )
        return await self._send_command(uid, CommandType.START_SESSION, body, target)

    async def stop_session(self, session_id: str, to: PartyRef) -> CommandResponse:
        """POST STOP_SESSION to the hub's commands RECEIVER (TO = the CPO)."""
        uid = uuid.uuid4().hex[:16]
        body = StopSession(
            response_url=join_url(
                self.module_url(ModuleID.COMMANDS), CommandType.STOP_SESSION.value, uid
            ),
            session_id=session_id,
        )
        return await self._send_command(uid, CommandType.STOP_SESSION, body, to)

    async def _send_command(
        self, uid: str, command: CommandType, body: OcpiModel, to: PartyRef
    ) -> CommandResponse:
        sent = SentCommand(uid=uid, command=command, body=body, to=to)
        # Registered before sending: the result may race the synchronous answer.
        self.sent_commands[uid] = sent
        self.last_command_uid = uid
        url = join_url(self.hub_endpoint(ModuleID.COMMANDS, InterfaceRole.RECEIVER), command.value)
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

    # --- either role: pull from the hub ---------------------------------------------------
    async def pull(
        self, module: ModuleID, item_type: type[T], to: PartyRef | None = None
    ) -> list[T]:
        """GET All from the hub's SENDER interface of `module`, following Link (TO = hub)."""
        url = self.hub_endpoint(module, InterfaceRole.SENDER)
        client = self.client()
        self.sent.append(SentRequest(method="GET", url=url, to=to or self.hub_party, body=None))
        return await client.get_all(url, item_type, to=to or self.hub_party)

    # --- background work ----------------------------------------------------------------
    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, within: float = 5.0) -> None:
        """Wait until every background task (CommandResult POSTs…) has finished."""
        while self._tasks:
            await asyncio.wait_for(asyncio.gather(*list(self._tasks)), within)

    async def close(self) -> None:
        """Cancel background tasks (a process does this at shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

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

    # --- a JSON view for the control API ------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        def dump(items: Mapping[Any, OcpiModel]) -> list[dict[str, Any]]:
            return [item.to_json() for item in items.values()]

        return {
            "role": self.role.value,
            "party": str(self.party),
            "registered": self.is_registered,
            "hub_party": str(self.hub_party) if self.peer is not None else None,
            "locations": dump(self.locations),
            "tariffs": dump(self.tariffs),
            "sessions": dump(self.sessions),
            "cdrs": dump(self.cdrs),
            "tokens": dump(self.tokens),
            "client_info": dump(self.client_info),
            "command_results": {uid: r.to_json() for uid, r in self.command_results.items()},
            "command_callbacks": [
                {"url": c.url, "result": c.result.to_json(), "status_code": c.status_code}
                for c in self.command_callbacks
            ],
            "received": [
                {
                    "method": r.method,
                    "path": r.path,
                    "headers": r.headers,
                    "query": r.query,
                    "body": r.body,
                    "http_status": r.http_status,
                }
                for r in self.received
            ],
        }


# --- pure helpers -------------------------------------------------------------------------
def _credentials_endpoint(endpoints: Sequence[Endpoint]) -> str:
    for endpoint in endpoints:
        if endpoint.identifier == ModuleID.CREDENTIALS:
            return endpoint.url
    raise NoMatchingEndpoints("the peer's version details have no credentials endpoint")


def _token_owner(item: Session | CDR) -> PartyRef:
    return PartyRef(item.cdr_token.country_code, item.cdr_token.party_id)


def _index_of(items: Sequence[T], match: Callable[[T], bool]) -> int | None:
    return next((i for i, item in enumerate(items) if match(item)), None)


def parse_body(model: type[M], body: Any) -> M:
    """Validate a JSON body; failures are 2001 naming each field (like the shared handler)."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise InvalidParameters(
            "Invalid or missing parameters: " + describe_errors(exc.errors())
        ) from None


def merge(model: type[M], current: M, changes: Mapping[str, Any]) -> M:
    """`current` with `changes` laid over it, validated as a whole object again."""
    data = current.model_dump()
    data.update(changes)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidParameters(
            "the PATCH would leave an invalid object: " + describe_errors(exc.errors())
        ) from None


def apply_session_patch(current: Session, patch: OcpiModel) -> Session:
    """Spec mod_sessions PATCH: `charging_periods` are appended, everything else replaced."""
    changes = patch.model_dump(exclude_unset=True)
    periods = changes.pop("charging_periods", None)
    if periods:
        old = [p.model_dump() for p in current.charging_periods or []]
        changes["charging_periods"] = old + list(periods)
    return merge(Session, current, changes)


def _same_owner(country_code: str, party_id: str, body: Mapping[str, Any] | OcpiModel) -> None:
    """Spec (client owned objects): URL country_code/party_id SHALL equal those in the body."""
    values = body.model_dump() if isinstance(body, OcpiModel) else body
    for name, expected in (("country_code", country_code), ("party_id", party_id)):
        value = values.get(name)
        if value is not None and str(value).upper() != expected.upper():
            raise InvalidParameters(
                f"{name} in the URL is {expected!r} but the body says {value!r}: they must match"
            )


def _same_id(url_value: str, body_value: Any, name: str) -> None:
    if body_value is not None and body_value != url_value:
        raise InvalidParameters(
            f"{name} in the URL is {url_value!r} but the body says {body_value!r}: they must match"
        )


def _stored(created: bool) -> OcpiResponse:
    return ocpi_response(http_status=201 if created else 200)


# --- the ASGI application -----------------------------------------------------------------
class _RecordingMiddleware:
    """Record every request (body included) and put reversed routing headers on the answers
    of functional modules: TO = the requester (its OCPI-from), FROM = this party."""

    def __init__(self, app: ASGIApp, member: Member) -> None:
        self.app = app
        self.member = member
        self.functional_prefix = member.module_path(ModuleID.LOCATIONS).rsplit("/", 1)[0] + "/"
        self.hubclientinfo = member.module_path(ModuleID.HUBCLIENTINFO)
        self.control = f"{member.base_path}/_control"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.control):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        raw = b"".join(chunks)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        record = RecordedRequest(
            method=scope["method"],
            path=scope["path"],
            headers=headers,
            query=dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)),
            body=body,
            raw_body=raw,
        )
        self.member.received.append(record)
        extra = self._routing_answer(scope["path"], headers)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await receive()

        async def send_with_routing(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.http_status = message["status"]
                if extra:
                    names = {name.lower().encode() for name in ROUTING_HEADERS}
                    kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                    message["headers"] = kept + extra
            await send(message)

        await self.app(scope, replay, send_with_routing)

    def _routing_answer(self, path: str, headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
        # Routing headers belong to functional modules only (never hubclientinfo/credentials).
        if not path.startswith(self.functional_prefix) or path.startswith(self.hubclientinfo):
            return []
        out: list[tuple[bytes, bytes]] = []
        try:
            requester = RoutingHeaders.parse(httpx.Headers(headers)).from_
        except ValueError:
            requester = None
        if requester is not None:
            out += [
                (OCPI_TO_COUNTRY_CODE.encode(), requester.country_code.encode()),
                (OCPI_TO_PARTY_ID.encode(), requester.party_id.encode()),
            ]
        out += [
            (OCPI_FROM_COUNTRY_CODE.encode(), self.member.party.country_code.encode()),
            (OCPI_FROM_PARTY_ID.encode(), self.member.party.party_id.encode()),
        ]
        return out


def build_app(member: Member) -> FastAPI:
    """The double's FastAPI app (Member.__init__ calls this; use `member.app`)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Only a real server runs this (ASGITransport does not): own an httpx client then.
        owned = None
        if member.http is None:
            owned = member.http = httpx.AsyncClient(timeout=10.0)
        try:
            yield
        finally:
            await member.close()
            if owned is not None:
                await owned.aclose()
                member.http = None

    app = ocpi_app(member.config.name, lifespan=lifespan)
    app.state.member = member
    config_auth: TokenAuth[Principal] = TokenAuth(member.principal)
    peer_auth: TokenAuth[Literal["peer"]] = TokenAuth(member.peer_principal)

    async def check_routing(
        routing: Annotated[RoutingHeaders, Depends(routing_headers)],
    ) -> RoutingHeaders:
        """Functional requests via a hub carry both pairs, and TO must be this party."""
        if not member.config.strict_routing:
            return routing
        if routing.to is None or routing.from_ is None:
            raise InvalidParameters(
                "functional-module requests from a hub must carry OCPI-to-country-code, "
                "OCPI-to-party-id, OCPI-from-country-code and OCPI-from-party-id"
            )
        if routing.to != member.party:
            raise InvalidParameters(
                f"this platform hosts {member.party}, but the request is addressed to {routing.to}"
            )
        return routing

    app.include_router(_configuration_router(member, config_auth))
    functional = APIRouter(dependencies=[Depends(peer_auth), Depends(check_routing)])
    if member.role is Role.CPO:
        _cpo_routes(member, functional)
    else:
        _emsp_routes(member, functional)
    app.include_router(functional)
    app.include_router(_hubclientinfo_router(member, peer_auth))
    app.include_router(_control_router(member))
    app.add_middleware(_RecordingMiddleware, member=member)
    return app


def create_member_app(config: MemberConfig, http: httpx.AsyncClient | None = None) -> FastAPI:
    """A fresh double's app; its state is `member_of(app)`."""
    return Member(config, http).app


def member_of(app: Starlette) -> Member:
    member: Member = app.state.member
    return member


def _configuration_router(member: Member, auth: TokenAuth[Principal]) -> APIRouter:
    """Versions, version details and credentials (configuration modules: no routing headers)."""
    router = APIRouter()
    Caller = Annotated[Principal, Depends(auth)]  # noqa: N806 - a type alias
    base = member.base_path

    @router.get(f"{base}/ocpi/versions")
    async def get_versions(caller: Caller) -> OcpiResponse:
        return ocpi_response([Version(version=VersionNumber.V2_2_1, url=member.details_url)])

    @router.get(f"{base}/ocpi/2.2.1")
    async def get_details(caller: Caller) -> OcpiResponse:
        return ocpi_response(
            VersionDetails(version=VersionNumber.V2_2_1, endpoints=member.endpoints())
        )

    path = urlsplit(member.credentials_url).path

    def registered(caller: Principal) -> None:
        # Spec credentials: PUT, GET and DELETE need an existing registration, else 405.
        if member.peer is None or caller != "peer":
            raise MethodNotAllowed("not registered here: POST credentials first")

    @router.get(path)
    async def get_credentials(caller: Caller) -> OcpiResponse:
        registered(caller)
        assert member.issued_token is not None
        return ocpi_response(member.own_credentials(member.issued_token))

    @router.post(path)
    async def post_credentials(caller: Caller, theirs: Credentials) -> OcpiResponse:
        if member.peer is not None:
            raise MethodNotAllowed("already registered: use PUT to update or DELETE to end it")
        return ocpi_response(await member.accept_registration(theirs))

    @router.put(path)
    async def put_credentials(caller: Caller, theirs: Credentials) -> OcpiResponse:
        registered(caller)
        return ocpi_response(await member.accept_registration(theirs))

    @router.delete(path)
    async def delete_credentials(caller: Caller) -> OcpiResponse:
        registered(caller)
        member.forget_peer()
        return ocpi_response()

    return router


def _hubclientinfo_router(member: Member, auth: TokenAuth[Literal["peer"]]) -> APIRouter:
    """hubclientinfo RECEIVER: `{url}/{country_code}/{party_id}` (a configuration module)."""
    router = APIRouter(dependencies=[Depends(auth)])
    path = member.module_path(ModuleID.HUBCLIENTINFO) + "/{country_code}/{party_id}"

    @router.put(path)
    async def put_client_info(country_code: str, party_id: str, info: ClientInfo) -> OcpiResponse:
        _same_owner(country_code, party_id, info)
        key = (country_code.upper(), party_id.upper())
        created = key not in member.client_info
        member.client_info[key] = info
        return _stored(created)

    @router.get(path)
    async def get_client_info(country_code: str, party_id: str) -> OcpiResponse:
        info = member.client_info.get((country_code.upper(), party_id.upper()))
        if info is None:
            raise NotFound(f"no ClientInfo for {country_code}/{party_id}")
        return ocpi_response(info)

    return router


def _list_response(
    member: Member,
    request: Request,
    items: Sequence[T],
    page: PageRequest,
    last_updated: Callable[[T], datetime],
) -> OcpiResponse:
    """One page (creation order), with a Link that points at the double's public URL."""
    cut = paginate(items, page, max_limit=member.config.page_limit, last_updated=last_updated)
    origin = urlsplit(member.base_url)
    public = f"{origin.scheme}://{origin.netloc}{request.url.path}"
    if request.url.query:
        public += "?" + request.url.query
    return ocpi_response(cut.items, headers=page_headers(cut, public))


Page = Annotated[PageRequest, Depends(page_request)]
Routing = Annotated[RoutingHeaders, Depends(routing_headers)]
JsonBody = Annotated[Any, Body()]
TypeParam = Annotated[TokenType, Query(alias="type")]


# --- CPO interfaces -----------------------------------------------------------------------
def _cpo_routes(member: Member, router: APIRouter) -> None:
    own_cc, own_pid = member.party.country_code, member.party.party_id
    locations = member.module_path(ModuleID.LOCATIONS)

    @router.get(locations)
    async def list_locations(request: Request, page: Page) -> OcpiResponse:
        return _list_response(
            member, request, list(member.locations.values()), page, lambda x: x.last_updated
        )

    def known_location(location_id: str) -> Location:
        location = member.own_location(location_id)
        if location is None:
            raise NotFound(f"location {location_id} is not known here")
        return location

    def known_evse(location_id: str, evse_uid: str) -> EVSE:
        location = known_location(location_id)
        found = next((e for e in location.evses or [] if e.uid == evse_uid), None)
        if found is None:
            raise NotFound(f"location {location_id} has no EVSE {evse_uid}")
        return found

    @router.get(locations + "/{location_id}")
    async def get_location(location_id: str) -> OcpiResponse:
        return ocpi_response(known_location(location_id))

    @router.get(locations + "/{location_id}/{evse_uid}")
    async def get_evse(location_id: str, evse_uid: str) -> OcpiResponse:
        return ocpi_response(known_evse(location_id, evse_uid))

    @router.get(locations + "/{location_id}/{evse_uid}/{connector_id}")
    async def get_connector(location_id: str, evse_uid: str, connector_id: str) -> OcpiResponse:
        evse = known_evse(location_id, evse_uid)
        found = next((c for c in evse.connectors if c.id == connector_id), None)
        if found is None:
            raise NotFound(f"EVSE {evse_uid} has no connector {connector_id}")
        return ocpi_response(found)

    @router.get(member.module_path(ModuleID.TARIFFS))
    async def list_tariffs(request: Request, page: Page) -> OcpiResponse:
        return _list_response(
            member, request, list(member.tariffs.values()), page, lambda x: x.last_updated
        )

    # Spec: date_from is "required" on the Sessions Sender list; the double stays tolerant.
    @router.get(member.module_path(ModuleID.SESSIONS))
    async def list_sessions(request: Request, page: Page) -> OcpiResponse:
        return _list_response(
            member, request, list(member.sessions.values()), page, lambda x: x.last_updated
        )

    @router.get(member.module_path(ModuleID.CDRS))
    async def list_cdrs(request: Request, page: Page) -> OcpiResponse:
        return _list_response(
            member, request, list(member.cdrs.values()), page, lambda x: x.last_updated
        )

    # tokens RECEIVER: {url}/{country_code}/{party_id}/{token_uid}[?type=] (type default RFID)
    tokens = member.module_path(ModuleID.TOKENS) + "/{country_code}/{party_id}/{token_uid}"

    @router.put(tokens)
    async def put_token(
        country_code: str,
        party_id: str,
        token_uid: str,
        token: Token,
        token_type: TypeParam = TokenType.RFID,
    ) -> OcpiResponse:
        _same_owner(country_code, party_id, token)
        _same_id(token_uid, token.uid, "token uid")
        _same_id(token_type.value, token.type.value, "token type")
        key = token_key(country_code, party_id, token_uid, token_type)
        created = key not in member.tokens
        member.tokens[key] = token
        return _stored(created)

    @router.patch(tokens)
    async def patch_token(
        country_code: str,
        party_id: str,
        token_uid: str,
        body: JsonBody,
        token_type: TypeParam = TokenType.RFID,
    ) -> OcpiResponse:
        patch = parse_body(TokenPatch, body)
        _same_owner(country_code, party_id, patch)
        changes = patch.model_dump(exclude_unset=True)
        _same_id(token_uid, changes.get("uid"), "token uid")
        key = token_key(country_code, party_id, token_uid, token_type)
        current = member.tokens.get(key)
        if current is None:
            raise NotFound(f"token {token_uid} ({token_type.value}) is not known here")
        member.tokens[key] = merge(Token, current, changes)
        return ocpi_response()

    @router.get(tokens)
    async def get_token(
        country_code: str, party_id: str, token_uid: str, token_type: TypeParam = TokenType.RFID
    ) -> OcpiResponse:
        found = member.tokens.get(token_key(country_code, party_id, token_uid, token_type))
        if found is None:
            raise NotFound(f"token {token_uid} ({token_type.value}) is not known here")
        return ocpi_response(found)

    # commands RECEIVER: POST {url}/{command}
    @router.post(member.module_path(ModuleID.COMMANDS) + "/{command}")
    async def post_command(command: CommandType, body: JsonBody, routing: Routing) -> OcpiResponse:
        parsed = parse_body(_COMMAND_BODIES[command], body)
        received = ReceivedCommand(command=command, body=parsed, requester=routing.from_)
        member.commands_received.append(received)
        status = OcpiStatus.SUCCESS
        message: str | None = None
        if isinstance(parsed, StartSession):
            location = member.own_location(parsed.location_id)
            if location is None:
                # Spec mod_commands example: unknown location -> 2003 with REJECTED.
                result = CommandResponseType.REJECTED
                status = OcpiStatus.UNKNOWN_LOCATION
                message = f"location {parsed.location_id} is not known here"
            elif parsed.evse_uid is not None and not any(
                e.uid == parsed.evse_uid for e in location.evses or []
            ):
                result = CommandResponseType.REJECTED
                message = f"location {parsed.location_id} has no EVSE {parsed.evse_uid}"
            else:
                result = CommandResponseType.ACCEPTED
        elif isinstance(parsed, StopSession):
            known = object_key(own_cc, own_pid, parsed.session_id) in member.sessions
            result = CommandResponseType.ACCEPTED if known else CommandResponseType.UNKNOWN_SESSION
        else:
            result = CommandResponseType.NOT_SUPPORTED
        response = CommandResponse(result=result, timeout=member.config.command_timeout)
        received.response = response
        if result is CommandResponseType.ACCEPTED:
            response_url: str = getattr(parsed, "response_url")  # noqa: B009 - every body has it
            member.spawn(member.post_command_result(response_url, routing.from_))
        return ocpi_response(response, status_code=status, status_message=message)


# --- eMSP interfaces ----------------------------------------------------------------------
def _emsp_routes(member: Member, router: APIRouter) -> None:
    _emsp_locations(member, router)
    _emsp_tariffs_sessions_cdrs(member, router)
    _emsp_tokens_commands(member, router)


def _emsp_locations(member: Member, router: APIRouter) -> None:
    """locations RECEIVER: {url}/{cc}/{pid}/{location_id}[/{evse_uid}[/{connector_id}]]."""
    loc = member.module_path(ModuleID.LOCATIONS) + "/{country_code}/{party_id}/{location_id}"
    evse_path = loc + "/{evse_uid}"
    connector_path = evse_path + "/{connector_id}"

    def stored(country_code: str, party_id: str, location_id: str) -> Location:
        found = member.locations.get(object_key(country_code, party_id, location_id))
        if found is None:
            raise NotFound(f"location {country_code}/{party_id}/{location_id} is not known here")
        return found

    def evse_at(location: Location, evse_uid: str) -> tuple[list[EVSE], int]:
        evses = list(location.evses or [])
        index = _index_of(evses, lambda e: e.uid == evse_uid)
        if index is None:
            raise NotFound(f"location {location.id} has no EVSE {evse_uid}")
        return evses, index

    def save(location: Location, **update: Any) -> None:
        member.add_location(location.model_copy(update=update))

    @router.put(loc)
    async def put_location(
        country_code: str, party_id: str, location_id: str, location: Location
    ) -> OcpiResponse:
        _same_owner(country_code, party_id, location)
        _same_id(location_id, location.id, "location_id")
        created = object_key(country_code, party_id, location_id) not in member.locations
        member.add_location(location)
        return _stored(created)

    @router.put(evse_path)
    async def put_evse(
        country_code: str, party_id: str, location_id: str, evse_uid: str, evse: EVSE
    ) -> OcpiResponse:
        _same_id(evse_uid, evse.uid, "evse_uid")
        location = stored(country_code, party_id, location_id)
        evses = list(location.evses or [])
        index = _index_of(evses, lambda e: e.uid == evse_uid)
        if index is None:
            evses.append(evse)
        else:
            evses[index] = evse
        # Spec mod_locations PUT: the parent's last_updated takes the child's new value.
        save(location, evses=evses, last_updated=evse.last_updated)
        return _stored(index is None)

    @router.put(connector_path)
    async def put_connector(
        country_code: str,
        party_id: str,
        location_id: str,
        evse_uid: str,
        connector_id: str,
        connector: Connector,
    ) -> OcpiResponse:
        _same_id(connector_id, connector.id, "connector_id")
        location = stored(country_code, party_id, location_id)
        evses, at = evse_at(location, evse_uid)
        connectors = list(evses[at].connectors)
        index = _index_of(connectors, lambda c: c.id == connector_id)
        if index is None:
            connectors.append(connector)
        else:
            connectors[index] = connector
        stamp = connector.last_updated
        evses[at] = evses[at].model_copy(update={"connectors": connectors, "last_updated": stamp})
        save(location, evses=evses, last_updated=stamp)
        return _stored(index is None)

    @router.patch(loc)
    async def patch_location(
        country_code: str, party_id: str, location_id: str, body: JsonBody
    ) -> OcpiResponse:
        patch = parse_body(LocationPatch, body)
        changes = patch.model_dump(exclude_unset=True)
        _same_owner(country_code, party_id, changes)
        _same_id(location_id, changes.get("id"), "location_id")
        location = stored(country_code, party_id, location_id)
        member.add_location(merge(Location, location, changes))
        return ocpi_response()

    @router.patch(evse_path)
    async def patch_evse(
        country_code: str, party_id: str, location_id: str, evse_uid: str, body: JsonBody
    ) -> OcpiResponse:
        patch = parse_body(EVSEPatch, body)
        changes = patch.model_dump(exclude_unset=True)
        _same_id(evse_uid, changes.get("uid"), "evse_uid")
        location = stored(country_code, party_id, location_id)
        evses, at = evse_at(location, evse_uid)
        evses[at] = merge(EVSE, evses[at], changes)
        save(location, evses=evses, last_updated=evses[at].last_updated)
        return ocpi_response()

    @router.patch(connector_path)
    async def patch_connector(
        country_code: str,
        party_id: str,
        location_id: str,
        evse_uid: str,
        connector_id: str,
        body: JsonBody,
    ) -> OcpiResponse:
        patch = parse_body(ConnectorPatch, body)
        changes = patch.model_dump(exclude_unset=True)
        _same_id(connector_id, changes.get("id"), "connector_id")
        location = stored(country_code, party_id, location_id)
        evses, at = evse_at(location, evse_uid)
        connectors = list(evses[at].connectors)
        index = _index_of(connectors, lambda c: c.id == connector_id)
        if index is None:
            raise NotFound(f"EVSE {evse_uid} has no connector {connector_id}")
        connectors[index] = merge(Connector, connectors[index], changes)
        stamp = connectors[index].last_updated
        evses[at] = evses[at].model_copy(update={"connectors": connectors, "last_updated": stamp})
        save(location, evses=evses, last_updated=stamp)
        return ocpi_response()

    @router.get(loc)
    async def get_location(country_code: str, party_id: str, location_id: str) -> OcpiResponse:
        return ocpi_response(stored(country_code, party_id, location_id))

    @router.get(evse_path)
    async def get_evse(
        country_code: str, party_id: str, location_id: str, evse_uid: str
    ) -> OcpiResponse:
        evses, at = evse_at(stored(country_code, party_id, location_id), evse_uid)
        return ocpi_response(evses[at])

    @router.get(connector_path)
    async def get_connector(
        country_code: str, party_id: str, location_id: str, evse_uid: str, connector_id: str
    ) -> OcpiResponse:
        evses, at = evse_at(stored(country_code, party_id, location_id), evse_uid)
        found = next((c for c in evses[at].connectors if c.id == connector_id), None)
        if found is None:
            raise NotFound(f"EVSE {evse_uid} has no connector {connector_id}")
        return ocpi_response(found)


def _emsp_tariffs_sessions_cdrs(member: Member, router: APIRouter) -> None:
    tariffs = member.module_path(ModuleID.TARIFFS) + "/{country_code}/{party_id}/{tariff_id}"

    @router.put(tariffs)
    async def put_tariff(
        country_code: str, party_id: str, tariff_id: str, tariff: Tariff
    ) -> OcpiResponse:
        _same_owner(country_code, party_id, tariff)
        _same_id(tariff_id, tariff.id, "tariff_id")
        created = object_key(country_code, party_id, tariff_id) not in member.tariffs
        member.add_tariff(tariff)
        return _stored(created)

    @router.get(tariffs)
    async def get_tariff(country_code: str, party_id: str, tariff_id: str) -> OcpiResponse:
        found = member.tariffs.get(object_key(country_code, party_id, tariff_id))
        if found is None:
            raise NotFound(f"tariff {country_code}/{party_id}/{tariff_id} is not known here")
        return ocpi_response(found)

    @router.delete(tariffs)
    async def delete_tariff(country_code: str, party_id: str, tariff_id: str) -> OcpiResponse:
        if member.tariffs.pop(object_key(country_code, party_id, tariff_id), None) is None:
            raise NotFound(f"tariff {country_code}/{party_id}/{tariff_id} is not known here")
        return ocpi_response()

    sessions = member.module_path(ModuleID.SESSIONS) + "/{country_code}/{party_id}/{session_id}"

    @router.put(sessions)
    async def put_session(
        country_code: str, party_id: str, session_id: str, session: Session
    ) -> OcpiResponse:
        _same_owner(country_code, party_id, session)
        _same_id(session_id, session.id, "session_id")
        created = object_key(country_code, party_id, session_id) not in member.sessions
        member.add_session(session)
        return _stored(created)

    @router.patch(sessions)
    async def patch_session(
        country_code: str, party_id: str, session_id: str, body: JsonBody
    ) -> OcpiResponse:
        patch = parse_body(SessionPatch, body)
        _same_owner(country_code, party_id, patch.model_dump(exclude_unset=True))
        _same_id(session_id, patch.model_dump(exclude_unset=True).get("id"), "session_id")
        key = object_key(country_code, party_id, session_id)
        current = member.sessions.get(key)
        if current is None:
            raise NotFound(f"session {country_code}/{party_id}/{session_id} is not known here")
        member.sessions[key] = apply_session_patch(current, patch)
        return ocpi_response()

    @router.get(sessions)
    async def get_session(country_code: str, party_id: str, session_id: str) -> OcpiResponse:
        found = member.sessions.get(object_key(country_code, party_id, session_id))
        if found is None:
            raise NotFound(f"session {country_code}/{party_id}/{session_id} is not known here")
        return ocpi_response(found)

    cdrs = member.module_path(ModuleID.CDRS)

    @router.post(cdrs)
    async def post_cdr(cdr: CDR) -> OcpiResponse:
        key = object_key(cdr.country_code, cdr.party_id, cdr.id)
        if key in member.cdrs:
            raise InvalidParameters(
                f"CDR {cdr.country_code}/{cdr.party_id}/{cdr.id} was already received; CDRs "
                "are immutable (send a credit CDR with a new id to correct one)"
            )
        url_id = cdr.id if cdr.id not in member.cdr_urls else "-".join(key)
        member.cdrs[key] = cdr
        member.cdr_urls[url_id] = key
        location = join_url(member.module_url(ModuleID.CDRS), url_id)
        return ocpi_response(http_status=201, headers={"Location": location})

    @router.get(cdrs + "/{cdr_id}")
    async def get_cdr(cdr_id: str) -> OcpiResponse:
        key = member.cdr_urls.get(cdr_id)
        if key is None:
            raise NotFound(f"no CDR at {cdr_id}")
        return ocpi_response(member.cdrs[key])


def _emsp_tokens_commands(member: Member, router: APIRouter) -> None:
    tokens = member.module_path(ModuleID.TOKENS)

    @router.get(tokens)
    async def list_tokens(request: Request, page: Page) -> OcpiResponse:
        own = [
            t
            for key, t in member.tokens.items()
            if key[:2] == (member.party.country_code, member.party.party_id)
        ]
        return _list_response(member, request, own, page, lambda x: x.last_updated)

    @router.post(tokens + "/{token_uid}/authorize")
    async def authorize(
        token_uid: str,
        token_type: TypeParam = TokenType.RFID,
        location: Annotated[LocationReferences | None, Body()] = None,
    ) -> OcpiResponse:
        key = token_key(member.party.country_code, member.party.party_id, token_uid, token_type)
        token = member.tokens.get(key)
        if token is None:
            # Spec mod_tokens: unknown token -> HTTP 404 with 2004 and no data.
            raise UnknownToken(f"token {token_uid} ({token_type.value}) is not known here")
        info = AuthorizationInfo(
            allowed=AllowedType.ALLOWED if token.valid else AllowedType.BLOCKED,
            token=token,
            location=location,
            authorization_reference=f"AUTH-{uuid.uuid4().hex[:12]}",
        )
        member.authorizations.append(info)
        return ocpi_response(info)

    # commands SENDER: the response_urls this double handed out.
    @router.post(member.module_path(ModuleID.COMMANDS) + "/{command}/{uid}")
    async def post_command_result(command: CommandType, uid: str, body: JsonBody) -> OcpiResponse:
        sent = member.sent_commands.get(uid)
        if sent is None or sent.command is not command:
            raise InvalidParameters(
                f"no {command.value} command with id {uid} was sent from here: "
                "this response_url is unknown"
            )
        member.command_results[uid] = parse_body(CommandResult, body)
        sent.result_arrived.set()
        return ocpi_response()


# --- control API, for a double running as a separate process ------------------------------
_CONTROL_ACTIONS: dict[str, Callable[[Member, dict[str, Any]], Awaitable[Any]]] = {}


def _control(
    name: str,
) -> Callable[
    [Callable[[Member, dict[str, Any]], Awaitable[Any]]],
    Callable[[Member, dict[str, Any]], Awaitable[Any]],
]:
    def register(
        action: Callable[[Member, dict[str, Any]], Awaitable[Any]],
    ) -> Callable[[Member, dict[str, Any]], Awaitable[Any]]:
        _CONTROL_ACTIONS[name] = action
        return action

    return register


def _to(args: Mapping[str, Any]) -> PartyRef | None:
    raw = args.get("to")
    return PartyRef.parse(raw) if raw else None


def _answer(response: ClientResponse) -> dict[str, Any]:
    return {"status_code": response.status_code, "http_status": response.http_status}


@_control("accept_token_a")
async def _accept_token_a(member: Member, args: dict[str, Any]) -> Any:
    member.accept_token_a(str(args["token"]))
    return {"ok": True}


@_control("register")
async def _register(member: Member, args: dict[str, Any]) -> Any:
    return (await member.register(str(args["versions_url"]), str(args["token"]))).to_json()


@_control("peer")
async def _peer(member: Member, args: dict[str, Any]) -> Any:
    """The token this double sends the hub (token C) and the hub's endpoints: lets a test send
    hand-made requests as this member (security tests)."""
    peer = member.require_peer()
    return {
        "token": peer.token,
        "endpoints": {f"{e.identifier}/{e.role.value}": e.url for e in peer.endpoints},
    }


@_control("update_credentials")
async def _update_credentials(member: Member, args: dict[str, Any]) -> Any:
    return (await member.update_credentials()).to_json()


@_control("unregister")
async def _unregister(member: Member, args: dict[str, Any]) -> Any:
    await member.unregister()
    return {"ok": True}


@_control("push_location")
async def _push_location(member: Member, args: dict[str, Any]) -> Any:
    location = Location.model_validate(args["location"])
    return _answer(await member.push_location(location, _to(args)))


@_control("push_tariff")
async def _push_tariff(member: Member, args: dict[str, Any]) -> Any:
    return _answer(await member.push_tariff(Tariff.model_validate(args["tariff"]), _to(args)))


@_control("patch_evse_status")
async def _patch_evse_status(member: Member, args: dict[str, Any]) -> Any:
    response = await member.patch_evse_status(
        str(args["location_id"]), str(args["evse_uid"]), Status(args["status"]), _to(args)
    )
    return _answer(response)


@_control("put_session")
async def _put_session(member: Member, args: dict[str, Any]) -> Any:
    return _answer(await member.put_session(Session.model_validate(args["session"]), _to(args)))


@_control("patch_session")
async def _patch_session(member: Member, args: dict[str, Any]) -> Any:
    response = await member.patch_session(str(args["session_id"]), args["changes"], _to(args))
    return _answer(response)


@_control("post_cdr")
async def _post_cdr(member: Member, args: dict[str, Any]) -> Any:
    return {"location": await member.post_cdr(CDR.model_validate(args["cdr"]), _to(args))}


@_control("push_token")
async def _push_token(member: Member, args: dict[str, Any]) -> Any:
    return _answer(await member.push_token(Token.model_validate(args["token"]), _to(args)))


@_control("add_token")
async def _add_token(member: Member, args: dict[str, Any]) -> Any:
    member.add_token(Token.model_validate(args["token"]))
    return {"ok": True}


@_control("add_location")
async def _add_location(member: Member, args: dict[str, Any]) -> Any:
    member.add_location(Location.model_validate(args["location"]))
    return {"ok": True}


@_control("start_session")
async def _start_session(member: Member, args: dict[str, Any]) -> Any:
    response = await member.start_session(
        str(args["location_id"]),
        args.get("evse_uid"),
        Token.model_validate(args["token"]),
        _to(args),
        connector_id=args.get("connector_id"),
    )
    return {"uid": member.last_command_uid, "response": response.to_json()}


@_control("stop_session")
async def _stop_session(member: Member, args: dict[str, Any]) -> Any:
    to = _to(args)
    if to is None:
        raise ValueError("stop_session needs 'to'")
    response = await member.stop_session(str(args["session_id"]), to)
    return {"uid": member.last_command_uid, "response": response.to_json()}


@_control("get_all")
async def _get_all(member: Member, args: dict[str, Any]) -> Any:
    """GET a whole list through the hub, following Link: {module, interface?, to?}."""
    module = ModuleID(str(args["module"]))
    interface = InterfaceRole(str(args.get("interface", "SENDER")))
    to = _to(args) or member.hub_party
    client = member.client()
    url = member.hub_endpoint(module, interface)
    pages = []
    async for page in client.iter_pages(url, dict, to=to):
        pages.append(page)
    return {"pages": pages}


def _control_router(member: Member) -> APIRouter:
    """Plain-JSON endpoints (not OCPI) to drive a double in another process; loopback only."""
    router = APIRouter()
    base = f"{member.base_path}/_control"

    @router.get(base + "/state")
    async def state() -> JSONResponse:
        return JSONResponse(member.snapshot())

    @router.post(base + "/{action}")
    async def act(action: str, args: Annotated[dict[str, Any], Body()]) -> JSONResponse:
        handler = _CONTROL_ACTIONS.get(action)
        if handler is None:
            return JSONResponse({"error": f"unknown action {action}"}, status_code=404)
        try:
            return JSONResponse({"result": await handler(member, args)})
        except OcpiError as exc:
            return JSONResponse(
                {"error": str(exc), "status_code": exc.status_code, "data": exc.data},
                status_code=502,
            )
        except (KeyError, ValueError, RuntimeError) as exc:
            return JSONResponse({"error": f"{type(exc).__name__}: {exc}"}, status_code=400)

    return router


# --- process entry point ------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> None:
    """Run one double under uvicorn (`python -m tests.doubles.member --help`)."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.doubles.member",
        description="A minimal OCPI 2.2.1 CPO or eMSP platform for testing a hub.",
    )
    parser.add_argument("--role", required=True, choices=["CPO", "EMSP"])
    parser.add_argument("--party", required=True, help="country_code/party_id, e.g. DE/CPB")
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--base-url", help="public root URL (default http://HOST:PORT)")
    parser.add_argument("--name", default="")
    parser.add_argument("--page-limit", type=int, default=2)
    parser.add_argument("--command-result-delay", type=float, default=0.05)
    parser.add_argument("--token-a", help="accept this token A for a hub-initiated handshake")
    parser.add_argument(
        "--lax-routing", action="store_true", help="accept functional requests without routing"
    )
    args = parser.parse_args(argv)
    config = MemberConfig(
        role=Role(args.role),
        party=PartyRef.parse(args.party),
        name=args.name,
        base_url=args.base_url or f"http://{args.host}:{args.port}",
        page_limit=args.page_limit,
        command_result_delay=args.command_result_delay,
        strict_routing=not args.lax_routing,
    )
    member = Member(config)
    if args.token_a:
        member.accept_token_a(args.token_a)

    import uvicorn

    uvicorn.run(member.app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
