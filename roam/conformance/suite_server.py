"""The suite's own OCPI platform: the hub the member under test talks to.

It publishes versions and 2.2.1 details like a hub (credentials, hubclientinfo, and both
interfaces of every functional module the suite plays), answers the member's calls during
the handshake, and receives what the member pushes: Sessions, CDRs, Location and Tariff
updates, Tokens, commands and CommandResults, real-time authorization requests. Every
request is recorded (`Inbound`) for the checks, which can wait for a particular one. It is a
plain ASGI app: the CLI serves it with uvicorn, the tests put it on their in-process network.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ocpi.envelope import encode_envelope
from ocpi.headers import (
    AUTHORIZATION,
    X_CORRELATION_ID,
    X_REQUEST_ID,
    AuthorizationError,
    PartyRef,
    RoutingHeaders,
    encode_authorization,
    new_request_id,
    token_candidates,
)
from ocpi.pagination import PageRequest, page_headers, paginate
from ocpi.platform.adapters import VersionAdapter, peer_role
from ocpi.platform.adapters import exchange as carried_by
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
    ReserveNow,
    Role,
    Session,
    SessionPatch,
    StartSession,
    StopSession,
    Tariff,
    Token,
    TokenPatch,
    UnlockConnector,
    Version,
    VersionDetails,
    VersionNumber,
)
from ocpi.v221.chargingprofiles import (
    ActiveChargingProfile,
    ActiveChargingProfileResult,
    ChargingProfileResult,
    ClearProfileResult,
)
from ocpi.v221.hubclientinfo import ConnectionStatus
from ocpi.v221.types import parse_datetime
from roam.conformance.edge import WireObject, carry_all_down, carry_up, message_context
from roam.conformance.exchange import Inbound, decode_json, routing_of
from roam.conformance.validation import check_value
from roam.conformance.versions import V221, SuiteVersion

FUNCTIONAL = (
    ModuleID.CDRS,
    ModuleID.CHARGINGPROFILES,
    ModuleID.COMMANDS,
    ModuleID.LOCATIONS,
    ModuleID.SESSIONS,
    ModuleID.TARIFFS,
    ModuleID.TOKENS,
)
CONFIGURATION = (ModuleID.CREDENTIALS, ModuleID.HUBCLIENTINFO)
COMMAND_TIMEOUT = 30
"""CommandResponse.timeout the suite gives when it plays the CPO."""

_COMMAND_BODIES: dict[str, type[Any]] = {
    "START_SESSION": StartSession,
    "STOP_SESSION": StopSession,
    "RESERVE_NOW": ReserveNow,
    "CANCEL_RESERVATION": CancelReservation,
    "UNLOCK_CONNECTOR": UnlockConnector,
}
PROFILE_RESULTS: dict[str, type[Any]] = {
    "SET": ChargingProfileResult,
    "GET": ActiveChargingProfileResult,
    "CLEAR": ClearProfileResult,
}
"""What the CPO POSTs to the suite's chargingprofiles response_url of each request kind."""
_LOCATION_DEPTH: dict[int, tuple[type[Any], type[Any]]] = {
    3: (Location, LocationPatch),
    4: (EVSE, EVSEPatch),
    5: (Connector, ConnectorPatch),
}

Answer = tuple[int, int, Any, str | None, dict[str, str]]
"""(HTTP status, OCPI status, data, status message, extra headers)."""


def _answer(
    data: Any = None,
    status: int = OcpiStatus.SUCCESS,
    message: str | None = None,
    http: int = 200,
    headers: dict[str, str] | None = None,
) -> Answer:
    return http, int(status), data, message, headers or {}


reply = _answer
"""An answer for a `credentials_handler` (HTTP 200, status 1000 unless told)."""

CredentialsHandler = Callable[[Inbound], Awaitable[Answer]]


def _json(value: Any) -> Any:
    return value.to_json() if hasattr(value, "to_json") else value


class SuiteServer:
    """The hub side of the run; `app` is its ASGI application."""

    def __init__(
        self,
        public_url: str,
        hub: PartyRef,
        counterpart: PartyRef,
        counterpart_role: Role,
        version: SuiteVersion = V221,
        *,
        adapter: VersionAdapter | None = None,
        member_party: Callable[[], PartyRef | None] = lambda: None,
    ) -> None:
        self.version = version
        """The version the suite publishes; inside, requests are handled as 2.2.1 (paths and
        bodies carried down in `_handle`, answers carried up)."""
        self.adapter = adapter or version.adapter
        """Carries the objects (2.1.1: the suite's role and state, see Context)."""
        self.member_party = member_party
        """The member's party: the owner of what it sends unless its URL names one."""
        self.public_url = public_url.rstrip("/")
        self.root = urlsplit(self.public_url).path.rstrip("/") + "/ocpi"
        self.hub = hub
        self.counterpart = counterpart
        self.counterpart_role = counterpart_role
        self.tokens: dict[str, str] = {}
        """Credentials tokens the member may use here (token -> "B", "B2"…)."""
        self.inbound: list[Inbound] = []
        self.objects: dict[str, dict[tuple[str, ...], dict[str, Any]]] = {
            m.value: {} for m in FUNCTIONAL
        }
        self.driver_tokens: dict[tuple[str, str], Token] = {}
        """Tokens of the suite's own eMSP party: real-time authorization answers ALLOWED."""
        self._waiters: list[tuple[Callable[[Inbound], bool], asyncio.Future[Inbound]]] = []
        self.credentials_handler: CredentialsHandler | None = None
        """Answers the member's credentials POST and PUT (a member-initiated handshake or
        rotation, lifecycle.py); without one the suite refuses them with 405."""
        self.app = Starlette(
            routes=[
                Route(
                    "/{path:path}",
                    self._handle,
                    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                )
            ]
        )

    # --- what the suite publishes ---------------------------------------------------------------
    @property
    def versions_url(self) -> str:
        return f"{self.public_url}/ocpi/versions"

    @property
    def details_url(self) -> str:
        return f"{self.public_url}/ocpi/{self.version.number}"

    def endpoint(self, module: ModuleID, role: InterfaceRole) -> str:
        if module in CONFIGURATION:
            return f"{self.details_url}/{module.value}"
        return f"{self.details_url}/{role.value.lower()}/{module.value}"

    def response_url(self, command: str, command_id: str) -> str:
        return f"{self.endpoint(ModuleID.COMMANDS, InterfaceRole.SENDER)}/{command}/{command_id}"

    def profile_url(self, kind: str, request_id: str) -> str:
        """The response_url of a chargingprofiles request (kind SET, GET or CLEAR); the
        query string is part of it, as a hub's rewritten URLs may have one."""
        base = self.endpoint(ModuleID.CHARGINGPROFILES, InterfaceRole.SENDER)
        return f"{base}/{kind}/{request_id}?request_id={request_id}"

    def credentials(self, token: str) -> Credentials:
        """The suite's credentials as a 2.2.1 hub: exactly one role, HUB."""
        return Credentials(
            token=token,
            url=self.versions_url,
            roles=[
                CredentialsRole(
                    role=Role.HUB,
                    business_details=BusinessDetails(name="roam conformance suite"),
                    country_code=self.hub.country_code,
                    party_id=self.hub.party_id,
                )
            ],
        )

    def credentials_body(self, token: str) -> Any:
        """The suite's credentials as the version's wire object (2.2.1: the model)."""
        own = self.credentials(token)
        if not self.version.translates:
            return own
        return self.version.suite_credentials(own, self._counterpart_role())

    def _counterpart_role(self) -> CredentialsRole:
        return CredentialsRole(
            role=self.counterpart_role,
            business_details=BusinessDetails(name="roam conformance suite counterpart"),
            country_code=self.counterpart.country_code,
            party_id=self.counterpart.party_id,
        )

    def details(self) -> VersionDetails:
        endpoints = [
            Endpoint(
                identifier=ModuleID.CREDENTIALS,
                role=InterfaceRole.SENDER,
                url=self.endpoint(ModuleID.CREDENTIALS, InterfaceRole.SENDER),
            ),
            Endpoint(
                identifier=ModuleID.HUBCLIENTINFO,
                role=InterfaceRole.SENDER,
                url=self.endpoint(ModuleID.HUBCLIENTINFO, InterfaceRole.SENDER),
            ),
        ]
        for module in FUNCTIONAL:
            for role in (InterfaceRole.SENDER, InterfaceRole.RECEIVER):
                endpoints.append(
                    Endpoint(identifier=module, role=role, url=self.endpoint(module, role))
                )
        return VersionDetails(version=VersionNumber.V2_2_1, endpoints=endpoints)

    def _published(self) -> list[Endpoint]:
        """The endpoints of the suite's details in the run's version: in 2.1.1, which gives a
        module one endpoint without a role, the interface the member calls."""
        endpoints = self.details().endpoints
        if not self.version.one_interface:
            return endpoints
        member = Role.CPO if self.counterpart_role is Role.EMSP else Role.EMSP
        return [
            e
            for e in endpoints
            if e.identifier in CONFIGURATION or e.role is peer_role(e.identifier, member)
        ]

    def client_info(self) -> ClientInfo:
        return ClientInfo(
            country_code=self.counterpart.country_code,
            party_id=self.counterpart.party_id,
            role=self.counterpart_role,
            status=ConnectionStatus.CONNECTED,
            last_updated=datetime.now(UTC),
        )

    # --- waiting for the member -----------------------------------------------------------------
    async def wait_for(
        self, match: Callable[[Inbound], bool], within: float, since: int = 0
    ) -> Inbound | None:
        """The first request from `since` on that matches, waiting up to `within` seconds."""
        for item in self.inbound[since:]:
            if match(item):
                return item
        future: asyncio.Future[Inbound] = asyncio.get_running_loop().create_future()
        entry = (match, future)
        self._waiters.append(entry)
        try:
            return await asyncio.wait_for(future, within)
        except TimeoutError:
            return None
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)

    def _notify(self, item: Inbound) -> None:
        for match, future in list(self._waiters):
            if not future.done() and match(item):
                future.set_result(item)

    # --- the ASGI handler -------------------------------------------------------------------------
    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        payload, is_json = decode_json(body)
        path = request.url.path
        relative = path[len(self.root) :].strip("/") if path.startswith(self.root) else path
        segments = [s for s in relative.split("/") if s]
        inner = self.version.translates and segments[:1] == [self.version.number]
        if inner:  # handled as the 2.2.1 path inside; item.url keeps the version's
            segments[0] = V221.number
            relative = "/".join(segments)
        module = self._module_of(segments)
        item = Inbound(
            seq=len(self.inbound),
            method=request.method,
            url=str(request.url),
            path=relative,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            payload=payload,
            is_json=is_json,
            module=module,
            functional=module in {m.value for m in FUNCTIONAL},
            at=time.monotonic(),
        )
        self._authenticate(item)
        if not path.startswith(self.root + "/"):
            answer = _answer(None, OcpiStatus.CLIENT_ERROR, f"no such endpoint: {path}", 404)
        elif item.token is None:
            answer = _answer(
                None, OcpiStatus.CLIENT_ERROR, "unknown or missing credentials token", 401
            )
        elif body.strip() and not is_json:
            answer = _answer(None, OcpiStatus.CLIENT_ERROR, "the body is not JSON", 400)
        elif self.version.translates and not inner and segments[:1] == [V221.number]:
            answer = _answer(
                None,
                OcpiStatus.CLIENT_ERROR,
                f"the suite speaks OCPI {self.version.number} in this run: its version details "
                "give its URLs",
                404,
            )
        elif inner and (refused := self._carry_down(item, segments)) is not None:
            answer = refused
        else:
            handler = self.credentials_handler
            try:
                if (
                    handler is not None
                    and segments == ["2.2.1", "credentials"]
                    and item.method in ("POST", "PUT")
                ):
                    answer = await handler(item)
                else:
                    answer = self._dispatch(item, segments, request.query_params.get("type"))
            except Exception as exc:  # the suite answers, whatever the member sent
                answer = _answer(None, OcpiStatus.SERVER_ERROR, f"suite error: {exc}", 500)
        http, status, data, message, extra = answer
        if inner and data is not None and status == OcpiStatus.SUCCESS:
            data = self._carry_up(item, segments, data)
        try:
            content = encode_envelope(_json(data), status, message)
        except Exception as exc:  # e.g. a lone surrogate the member sent, echoed in a message
            http, status = 500, OcpiStatus.SERVER_ERROR
            reason = f"suite error: its answer could not be encoded ({type(exc).__name__})"
            content = encode_envelope(None, status, reason)
        item.status = http
        item.answer_body = content
        headers = dict(extra)
        headers[X_REQUEST_ID] = item.header(X_REQUEST_ID) or new_request_id()
        headers[X_CORRELATION_ID] = item.header(X_CORRELATION_ID) or headers[X_REQUEST_ID]
        if item.functional and self.adapter.routing_headers:
            headers.update(self._answer_routing(item).to_headers())
        item.answer_headers = headers
        self.inbound.append(item)
        self._notify(item)
        return Response(content, status_code=http, headers=headers, media_type="application/json")

    # --- another version at the edge ---------------------------------------------------------
    def _carried(self, item: Inbound, segments: list[str]) -> tuple[Any, Any]:
        """(request body, answer data) objects of a request to an (inner) path."""
        if len(segments) < 3 or segments[1] not in ("sender", "receiver"):
            return None, None
        role = InterfaceRole.SENDER if segments[1] == "sender" else InterfaceRole.RECEIVER
        try:
            module = ModuleID(segments[2])
        except ValueError:
            return None, None
        found = carried_by(module, role, item.method, segments[3:])
        return found.request, found.response

    def _carry_down(self, item: Inbound, segments: list[str]) -> Answer | None:
        """The member's body in the suite's version as 2.2.1 (item.payload; item.body keeps
        the bytes sent); an answer 2001 naming the version's rule when it is not valid in it."""
        if item.payload is None:
            return None
        if segments[1:] == ["credentials"] and item.method in ("POST", "PUT"):
            checked = check_value(self.version.credentials_type(), item.payload, "body")
            item.findings.extend(checked.findings)
            if checked.value is None:
                problem = f"not valid OCPI {self.version.number} Credentials: " + "; ".join(
                    checked.problems
                )
                item.problems.append(problem)
                return _answer(None, OcpiStatus.INVALID_OR_MISSING_PARAMETERS, problem)
            member = Role.CPO if self.counterpart_role is Role.EMSP else Role.EMSP
            item.payload = self.version.credentials_down(checked.value, member).to_json()
            return None
        request, _ = self._carried(item, segments)
        if request is None:
            return None
        role = InterfaceRole.SENDER if segments[1] == "sender" else InterfaceRole.RECEIVER
        context = message_context(segments[2], role, segments[3:], self.member_party())
        value, findings = carry_all_down(self.adapter, request, item.payload, "body", context)
        item.findings.extend(findings)
        if isinstance(value, WireObject) and value.problem is not None:
            item.problems.append(value.problem)
            return _answer(None, OcpiStatus.INVALID_OR_MISSING_PARAMETERS, value.problem)
        if isinstance(value, WireObject):
            # Valid in its version, but the 2.2.1 inside cannot hold it: not the member's
            # fault, so accepted and left unjudged (item.payload stays as sent).
            item.judged_by = "not carried to 2.2.1"
            return _answer(None, OcpiStatus.SUCCESS, value.untranslatable)
        item.payload = value
        return None

    def _carry_up(self, item: Inbound, segments: list[str], data: Any) -> Any:
        """The suite's answer data in its version."""
        if segments[1:] == ["credentials"] and isinstance(data, Credentials):
            return self.version.suite_credentials(data, self._counterpart_role())
        _, response = self._carried(item, segments)
        if response is None:
            return data
        value = _json(data)
        if response.many and isinstance(value, list):
            value = [_json(one) for one in value]
        return carry_up(self.adapter, response, value)

    @staticmethod
    def _module_of(segments: list[str]) -> str | None:
        if len(segments) >= 2 and segments[0] == "2.2.1":
            if segments[1] in ("sender", "receiver") and len(segments) >= 3:
                return segments[2]
            return segments[1]
        return None

    def _authenticate(self, item: Inbound) -> None:
        header = item.header(AUTHORIZATION)
        try:
            candidates = token_candidates(header, accept_raw=True)
        except AuthorizationError:
            return
        for token in candidates:
            if token in self.tokens:
                item.token = token
                item.raw_token = (header or "").strip() != encode_authorization(token)
                return

    def _answer_routing(self, item: Inbound) -> RoutingHeaders:
        """The answer to a functional request: TO = the requester, FROM = who it addressed."""
        try:
            sent = routing_of(item.headers)
        except ValueError:
            sent = RoutingHeaders()
        return RoutingHeaders(to=sent.from_, from_=sent.to or self.hub)

    # --- dispatch ---------------------------------------------------------------------------------
    def _dispatch(self, item: Inbound, segments: list[str], token_type: str | None) -> Answer:
        method = item.method
        if segments == ["versions"] and method == "GET":
            if self.version.translates:
                return _answer(self.adapter.versions(self.details_url))
            return _answer([Version(version=VersionNumber.V2_2_1, url=self.details_url)])
        if segments == ["2.2.1"] and method == "GET":
            if self.version.translates:
                return _answer(self.adapter.details(self._published()))
            return _answer(self.details())
        if segments[:2] == ["2.2.1", "credentials"] and len(segments) == 2:
            if method == "GET":
                return _answer(self.credentials(item.token or ""))
            return _answer(
                None,
                OcpiStatus.CLIENT_ERROR,
                "the suite started this connection: it sends credentials, it takes none",
                405,
            )
        if segments[:2] == ["2.2.1", "hubclientinfo"] and method == "GET":
            return self._list(item, [self.client_info().to_json()])
        if len(segments) >= 3 and segments[0] == "2.2.1" and segments[1] == "receiver":
            return self._receiver(item, segments[2], segments[3:], token_type)
        if len(segments) >= 3 and segments[0] == "2.2.1" and segments[1] == "sender":
            return self._sender(item, segments[2], segments[3:], token_type)
        return _answer(
            None, OcpiStatus.CLIENT_ERROR, f"no such endpoint: {method} {item.path}", 404
        )

    def _list(self, item: Inbound, objects: list[dict[str, Any]]) -> Answer:
        def stamp(obj: dict[str, Any]) -> datetime:
            try:
                return parse_datetime(str(obj.get("last_updated")))
            except ValueError:
                return datetime(1970, 1, 1, tzinfo=UTC)

        try:
            page = PageRequest.parse(dict(parse_qsl(urlsplit(item.url).query)))
        except ValueError as exc:
            return _answer(None, OcpiStatus.INVALID_OR_MISSING_PARAMETERS, str(exc))
        cut = paginate(objects, page, max_limit=1000, last_updated=stamp)
        return _answer(cut.items, headers=page_headers(cut, item.url))

    def _sender(
        self, item: Inbound, module: str, rest: list[str], token_type: str | None
    ) -> Answer:
        if item.method == "GET" and not rest:
            return self._list(item, list(self.objects.get(module, {}).values()))
        if module == "tokens" and item.method == "POST" and rest[1:] == ["authorize"]:
            return self._authorize(item, rest[0], token_type or "RFID")
        if module == "commands" and item.method == "POST" and len(rest) == 2:
            checked = self._validate(item, CommandResult, "body")
            if checked is None:
                return _answer(None, OcpiStatus.INVALID_OR_MISSING_PARAMETERS, item.problems[0])
            return _answer()
        if module == "chargingprofiles" and item.method in ("POST", "PUT"):
            return self._profile(item, rest)
        return _answer(None, OcpiStatus.CLIENT_ERROR, "the suite holds no such object", 404)

    def _profile(self, item: Inbound, rest: list[str]) -> Answer:
        """A result POSTed to a response_url the suite gave, or an ActiveChargingProfile PUT
        of a session (spec mod_charging_profiles Sender interface)."""
        if item.method == "POST" and len(rest) == 2 and rest[0] in PROFILE_RESULTS:
            model: type[Any] = PROFILE_RESULTS[rest[0]]
        elif item.method == "PUT" and len(rest) == 1:
            model = ActiveChargingProfile
        else:
            return _answer(None, OcpiStatus.CLIENT_ERROR, "no such response_url", 404)
        if self._validate(item, model, "body") is None:
            return _answer(None, OcpiStatus.INVALID_OR_MISSING_PARAMETERS, item.problems[0])
        return _answer()

    def _authorize(self, item: Inbound, uid: str, token_type: str) -> Answer:
        if item.payload is not None:
            self._validate(item, LocationReferences, "body")
        token = self.driver_tokens.get((uid, token_type))
        if token is None:
            return _answer(
                None, OcpiStatus.UNKNOWN_TOKEN, f"token {uid} ({token_type}) is unknown", 404
            )
        where = item.parsed if isinstance(item.parsed, LocationReferences) else None
        info = AuthorizationInfo(
            allowed=AllowedType.ALLOWED,
            token=token,
            location=where,
            authorization_reference=f"RT{item.seq:06d}",
        )
        return _answer(info)

    def _validate(self, item: Inbound, model: Any, where: str) -> Any:
        checked = check_value(model, item.payload, where)
        item.findings.extend(checked.findings)
        item.problems.extend(checked.problems)
        item.parsed = checked.value
        return checked.value

    def _receiver(
        self, item: Inbound, module: str, rest: list[str], token_type: str | None
    ) -> Answer:
        method = item.method
        store = self.objects.get(module)
        if store is None:
            return _answer(None, OcpiStatus.CLIENT_ERROR, f"unknown module {module}", 404)
        if module == "commands":
            return self._command(item, rest)
        if module == "cdrs" and method == "POST" and not rest:
            return self._cdr(item)
        key = (*rest, token_type or "RFID") if module == "tokens" else tuple(rest)
        if method == "GET":
            found = store.get(key)
            if found is None:
                return _answer(None, OcpiStatus.CLIENT_ERROR, "the suite holds no such object", 404)
            return _answer(found)
        if method == "DELETE" and module == "tariffs":
            store.pop(key, None)
            return _answer()
        full, patch = self._models(module, len(rest))
        if full is None or method not in ("PUT", "PATCH") or (method == "PATCH" and patch is None):
            return _answer(
                None, OcpiStatus.CLIENT_ERROR, f"{method} is not allowed on {item.path}", 405
            )
        model = full if method == "PUT" else patch
        if self._validate(item, model, "body") is None:
            return _answer(None, OcpiStatus.INVALID_OR_MISSING_PARAMETERS, item.problems[0])
        body = dict(item.payload)
        mismatch = _url_mismatch(module, rest, body)
        if mismatch:
            item.problems.append(mismatch)
            return _answer(None, OcpiStatus.INVALID_OR_MISSING_PARAMETERS, mismatch)
        if method == "PATCH":
            merged = dict(store.get(key, {}))
            periods = list(merged.get("charging_periods") or [])
            merged.update(body)
            if module == "sessions" and body.get("charging_periods"):
                merged["charging_periods"] = periods + list(body["charging_periods"])
            store[key] = merged
            return _answer()
        created = key not in store
        store[key] = body
        return _answer(http=201 if created else 200)

    @staticmethod
    def _models(module: str, depth: int) -> tuple[Any, Any]:
        if module == "locations":
            return _LOCATION_DEPTH.get(depth, (None, None))
        if depth != 3:
            return None, None
        return {
            "tariffs": (Tariff, None),
            "sessions": (Session, SessionPatch),
            "tokens": (Token, TokenPatch),
        }.get(module, (None, None))

    def _cdr(self, item: Inbound) -> Answer:
        cdr = self._validate(item, CDR, "body")
        if not isinstance(cdr, CDR):
            return _answer(None, OcpiStatus.INVALID_OR_MISSING_PARAMETERS, item.problems[0])
        key = (cdr.country_code.upper(), cdr.party_id.upper(), cdr.id)
        created = key not in self.objects["cdrs"]
        if created:
            self.objects["cdrs"][key] = dict(item.payload)
        location = (
            self.endpoint(ModuleID.CDRS, InterfaceRole.RECEIVER)
            + "/"
            + "/".join(quote(part, safe="") for part in key)
        )
        return _answer(http=201 if created else 200, headers={"Location": location})

    def _command(self, item: Inbound, rest: list[str]) -> Answer:
        if item.method != "POST" or len(rest) != 1:
            return _answer(None, OcpiStatus.CLIENT_ERROR, "POST {commands_url}/{command}", 405)
        model = _COMMAND_BODIES.get(rest[0])
        if model is None:
            response = CommandResponse(result=CommandResponseType.NOT_SUPPORTED, timeout=0)
            return _answer(response, OcpiStatus.INVALID_OR_MISSING_PARAMETERS, "unknown command")
        if self._validate(item, model, "body") is None:
            return _answer(None, OcpiStatus.INVALID_OR_MISSING_PARAMETERS, item.problems[0])
        return _answer(
            CommandResponse(result=CommandResponseType.ACCEPTED, timeout=COMMAND_TIMEOUT)
        )


def _url_mismatch(module: str, rest: list[str], body: dict[str, Any]) -> str | None:
    """Spec transport_and_format, Client Owned Object Push: the URL's country_code, party_id
    and object id SHALL be the object's (compared where the body carries them)."""
    key = "uid" if module == "tokens" else "id"
    fields = [("country_code", 0), ("party_id", 1)]
    if module != "locations" or len(rest) == 3:
        fields.append((key, 2))
    for name, index in fields:
        value = body.get(name)
        if value is not None and index < len(rest) and str(value).upper() != rest[index].upper():
            return f"{name} in the URL is {rest[index]!r}, in the body {value!r}: they must match"
    return None
