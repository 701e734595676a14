"""MemberState: what one double is and holds (identity, URLs, tokens, stored objects, records)
and the one way it calls out (`send`, recorded in `sent`), plus its background tasks."""

import asyncio
import secrets
from collections.abc import Coroutine, Mapping
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import httpx

from ocpi.client import OcpiClient
from ocpi.client import OcpiResponse as ClientResponse
from ocpi.errors import NoMatchingEndpoints, OcpiError
from ocpi.headers import PartyRef
from ocpi.v221 import (
    CDR,
    AuthorizationInfo,
    BusinessDetails,
    ClientInfo,
    CommandResult,
    CommandResultType,
    Credentials,
    CredentialsRole,
    Endpoint,
    InterfaceRole,
    Location,
    ModuleID,
    OcpiModel,
    Role,
    Session,
    Tariff,
    Token,
)
from tests.doubles.member.records import (
    CallbackOutcome,
    MemberConfig,
    Peer,
    ReceivedCommand,
    RecordedRequest,
    SentCommand,
    SentRequest,
)
from tests.doubles.member.rules import Key, TokenKey, join_url, object_key, token_key

T = TypeVar("T")

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


class MemberState:
    """The state of one double and its outbound plumbing; `Member` adds what it does.

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

    # --- the peer (the hub) -------------------------------------------------------------
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

    def hub_receiver_url(self, module: ModuleID, *parts: str) -> str:
        """`{the hub's RECEIVER url of module}/{part}/…`, each part percent-encoded."""
        return join_url(self.hub_endpoint(module, InterfaceRole.RECEIVER), *parts)

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

    async def pull(
        self, module: ModuleID, item_type: type[T], to: PartyRef | None = None
    ) -> list[T]:
        """GET All from the hub's SENDER interface of `module`, following Link (TO = hub)."""
        url = self.hub_endpoint(module, InterfaceRole.SENDER)
        client = self.client()
        self.sent.append(SentRequest(method="GET", url=url, to=to or self.hub_party, body=None))
        return await client.get_all(url, item_type, to=to or self.hub_party)

    # --- local state --------------------------------------------------------------------
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

    def own_key(self, object_id: str) -> Key:
        """The key of an object of this party's own."""
        return object_key(self.party.country_code, self.party.party_id, object_id)

    def own_location(self, location_id: str) -> Location | None:
        return self.locations.get(self.own_key(location_id))

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
