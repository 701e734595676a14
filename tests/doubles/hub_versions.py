"""A small OCPI hub double of one version (2.1.1 or 2.3.0), for members configured with it.

It does what a hub of that version does towards one member and nothing more: versions (its
own and 2.2.1 listed, only its own details served), the credentials handshake of the version,
and the Receiver and Sender interfaces of the functional modules. Every body it receives is
validated against the version's models (`ocpi.v211`, `ocpi.v230`; not through the member kit's
adapters), kept in `received`, and refused with 2001 when invalid (`refused`). `call()` talks to
the member as a hub of the version would. Written only against `ocpi/`.

What differs between the versions is data, a `HubVersion` (`V211`, `V230`):

- 2.1.1 endpoints have no role (one URL per module, the interface the member's role calls),
  its credentials name one party, it takes the token unencoded (`Token <token>`, noting a
  Base64 token in `refused`), it has no routing headers (a request or an answer carrying one
  is noted in `refused`), a top-level field its model lacks is refused too, and a command is
  answered with a bare CommandResponseType.
- 2.3.0 endpoints name both interfaces, its credentials carry `hub_party_id` and the
  reachable parties in `roles` (docs/versions.md), it takes Base64 tokens and routes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Generic, Literal, TypeVar

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from ocpi import v211, v230
from ocpi.client import OcpiClient, OcpiResponse
from ocpi.envelope import envelope_dict
from ocpi.headers import ROUTING_HEADERS, PartyRef, encode_authorization
from ocpi.v221.versions import InterfaceRole, ModuleID

HUB = PartyRef("NL", "HUB")
MODULES = ("locations", "tariffs", "sessions", "cdrs", "tokens", "commands")
_CPO_CALLS_RECEIVER = {"locations", "tariffs", "sessions", "cdrs"}
"""The modules whose Receiver interface a CPO calls (it calls the others' Sender)."""
_ROUTING = frozenset(name.lower() for name in ROUTING_HEADERS)

C = TypeVar("C", v211.Credentials, v230.Credentials)
"""The version's Credentials model."""


def _text(value: Any) -> str:
    """An enum's value, or the text as it is."""
    return str(getattr(value, "value", value))


def _received_models(models: ModuleType) -> dict[tuple[str, str, int], type[BaseModel]]:
    """What a body PUT/PATCHed/POSTed at (module, method, number of URL segments) must be."""
    found: dict[tuple[str, str, int], type[BaseModel]] = {
        ("tariffs", "PUT", 3): models.Tariff,
        ("cdrs", "POST", 0): models.CDR,
    }
    objects = [("locations", 3, "Location"), ("locations", 4, "EVSE")]
    objects += [("locations", 5, "Connector"), ("sessions", 3, "Session"), ("tokens", 3, "Token")]
    for module, segments, name in objects:
        found[module, "PUT", segments] = getattr(models, name)
        found[module, "PATCH", segments] = getattr(models, f"{name}Patch")
    return found


@dataclass(frozen=True)
class HubVersion(Generic[C]):
    """What the hub double does differently in one OCPI version."""

    number: str
    listed: tuple[str, ...]
    """The versions GET /ocpi/versions lists (only `number`'s details are served)."""
    credentials: type[C]
    models: ModuleType
    """`ocpi.v211` or `ocpi.v230`: what every body received is validated against."""
    commands: tuple[str, ...]
    """The commands the version has (their models named alike: START_SESSION, StartSession)."""
    result: str
    """The model a command's response_url takes."""
    references: bool
    """Whether POST {tokens}/{uid}/authorize reads its body (LocationReferences)."""
    roles: bool
    """Whether endpoints name their interface (2.1.1: one URL a module, no role)."""
    routing: bool
    """Whether the version has routing headers (2.1.1: a request carrying one is noted)."""
    base64_tokens: bool
    """Whether the token is Base64 encoded (2.2 on); 2.1.1 sends it as it is and a Base64
    token is noted as a refusal (transport_and_format "Request format")."""
    strict_fields: bool
    """Whether a top-level field the model lacks is refused (2.1.1: a 2.2.1 field that was
    not translated)."""
    command_answer: Callable[[str], Any]
    """The data a command POSTed to the hub is answered with, from its CommandResponseType."""
    answer_credentials: Callable[[HubDouble[C]], C]
    """The hub's credentials in the handshake."""

    @property
    def base(self) -> str:
        return f"http://hub{self.number.replace('.', '')}.test"

    def received_model(self, module: str, method: str, segments: int) -> type[BaseModel] | None:
        return _received_models(self.models).get((module, method, segments))

    def command_model(self, command: str) -> type[BaseModel] | None:
        if command not in self.commands:
            return None
        model: type[BaseModel] = getattr(self.models, command.title().replace("_", ""))
        return model

    def urls(self) -> tuple[str, str, str, str]:
        """The hub's base URL, and where its Receivers, Senders and command results are."""
        url = self.hub_url
        return self.base, url("receiver"), url("sender"), url("results")

    def hub_url(self, interface: str) -> str:
        """Where the hub's "receiver" or "sender" interfaces, or command "results", are."""
        return f"{self.base}/ocpi/hub/{self.number}/{interface}"


@dataclass
class Received:
    """One body the hub accepted: where it came, and the object of the version it validated as."""

    method: str
    module: str
    segments: list[str]
    body: Any
    parsed: BaseModel


@dataclass
class HubDouble(Generic[C]):
    http: httpx.AsyncClient
    """How the hub reaches the member (an in-process network in tests)."""
    spec: HubVersion[C]
    member_role: Literal["CPO", "EMSP"] | None = None
    """2.1.1: which interface of each module the hub's details offer (its endpoints have no
    role)."""
    reachable: list[v230.CredentialsRole] = field(default_factory=list)
    """2.3.0: the parties the hub's credentials list in `roles`."""
    token_a: str = ""
    token_c: str = ""
    sender_data: dict[str, list[Any]] = field(default_factory=dict)
    """What GET on a Sender interface lists, per module (JSON of the version)."""
    authorization: dict[str, Any] | None = None
    """What POST {tokens}/{uid}/authorize answers (an AuthorizationInfo as JSON)."""
    command_answer: str = "ACCEPTED"
    """The CommandResponseType a command POSTed to the hub is answered with."""
    member_credentials: C | None = None
    member_endpoints: list[Any] = field(default_factory=list)
    """The member's endpoints (`v211.Endpoint` or `v230.Endpoint`)."""
    member_details: Any = None
    """The member's version details as it served them (raw JSON)."""
    received: list[Received] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    app: FastAPI = field(init=False)

    def __post_init__(self) -> None:
        name = self.spec.base.removeprefix("http://").removesuffix(".test")
        self.token_a = self.token_a or f"{name}-token-a"
        self.token_c = self.token_c or f"{name}-token-c"
        self.app = self._build()

    # --- what the hub received ----------------------------------------------------------
    def bodies(self, module: str, method: str | None = None) -> list[Received]:
        return [r for r in self.received if r.module == module and method in (None, r.method)]

    # --- the member, as the hub calls it -------------------------------------------------
    def member_url(self, module: str | ModuleID, role: InterfaceRole | None = None) -> str:
        """The member's URL of `module` (and of `role` where endpoints have roles: a 2.1.1
        endpoint has none, and `role` is not asked there)."""
        role = role if self.spec.roles else None
        for endpoint in self.member_endpoints:
            same_role = getattr(endpoint, "role", None) is role
            if same_role and _text(endpoint.identifier) == _text(module):
                return str(endpoint.url)
        wanted = " ".join(_text(part) for part in (module, role) if part is not None)
        raise AssertionError(f"the member's details have no {wanted}")

    async def call(
        self,
        method: str,
        url: str,
        body: Any = None,
        *,
        params: dict[str, str] | None = None,
        sender: PartyRef = HUB,
        to: PartyRef | None = None,
        routed: bool = True,
    ) -> OcpiResponse:
        assert self.member_credentials is not None, "the member has not registered"
        client = OcpiClient(self.http, self.member_credentials.token, from_party=sender)
        routed = routed and self.spec.routing
        if routed and to is None:
            assert isinstance(self.member_credentials, v230.Credentials)
            first = self.member_credentials.roles[0]
            to = PartyRef(first.country_code, first.party_id)
        answer = await client.request(
            method, url, json_body=body, to=to, params=params, routed=routed
        )
        carried = sorted(name for name in answer.headers if name.lower() in _ROUTING)
        if carried and not self.spec.routing:
            self.refused.append(f"{method} {url}: the answer has routing headers {carried}")
        return answer

    # --- the app ---------------------------------------------------------------------------
    def _build(self) -> FastAPI:
        app = FastAPI()
        spec = self.spec
        number = spec.number
        url = spec.hub_url

        def ok(data: Any = None, **headers: str) -> JSONResponse:
            return JSONResponse(envelope_dict(data), headers=headers or None)

        def refuse(message: str) -> JSONResponse:
            self.refused.append(message)
            return JSONResponse(envelope_dict(status_code=2001, status_message=message))

        def authorized(request: Request, *tokens: str) -> bool:
            routed = sorted(name for name in request.headers if name.lower() in _ROUTING)
            if routed and not spec.routing:
                self.refused.append(f"{request.method} {request.url}: routing headers {routed}")
            given = request.headers.get("Authorization", "")
            if spec.base64_tokens:
                return any(given == encode_authorization(token) for token in tokens)
            if any(given == encode_authorization(token) for token in tokens):
                self.refused.append(f"{request.method} {request.url}: a Base64 token (2.2)")
            return any(given == f"Token {token}" for token in tokens)

        def unauthorized() -> JSONResponse:
            return JSONResponse(envelope_dict(status_code=2000, status_message="?"), 401)

        def validate(model: type[BaseModel], body: Any, what: str) -> BaseModel | str:
            # Stricter than the models (which ignore unknown fields), where the version says.
            extra = sorted(set(body) - set(model.model_fields)) if isinstance(body, dict) else []
            if extra and spec.strict_fields:
                return f"not a {number} {what}: no such fields {extra}"
            try:
                return model.model_validate(body)
            except ValidationError as exc:
                return f"not a valid {number} {what}: {exc}"

        def module_endpoints(module: str) -> list[dict[str, str]]:
            if spec.roles:
                return [
                    {"identifier": module, "role": role.upper(), "url": f"{url(role)}/{module}"}
                    for role in ("receiver", "sender")
                ]
            calls_receiver = (module in _CPO_CALLS_RECEIVER) == (self.member_role == "CPO")
            role = "receiver" if calls_receiver else "sender"
            return [{"identifier": module, "url": f"{url(role)}/{module}"}]

        @app.get("/ocpi/versions")
        async def versions(request: Request) -> JSONResponse:
            if not authorized(request, self.token_a, self.token_c):
                return unauthorized()
            return ok([{"version": v, "url": f"{spec.base}/ocpi/{v}"} for v in spec.listed])

        @app.get(f"/ocpi/{number}")
        async def details(request: Request) -> JSONResponse:
            if not authorized(request, self.token_a, self.token_c):
                return unauthorized()
            credentials = {"identifier": "credentials", "url": f"{spec.base}/ocpi/{number}/cred"}
            if spec.roles:
                credentials["role"] = "SENDER"
            endpoints = [credentials, *(e for m in MODULES for e in module_endpoints(m))]
            return ok({"version": number, "endpoints": endpoints})

        @app.post(f"/ocpi/{number}/cred")
        async def credentials(request: Request) -> JSONResponse:
            if not authorized(request, self.token_a):
                return unauthorized()
            theirs = validate(spec.credentials, await request.json(), "Credentials")
            if isinstance(theirs, str):
                return refuse(theirs)
            assert isinstance(theirs, spec.credentials)
            member = OcpiClient(self.http, theirs.token)
            offered = (await member.get(theirs.url, routed=False)).data
            if [v["version"] for v in offered] != [number]:
                return refuse(f"the member should offer {number} only, not {offered}")
            found = (await member.get(offered[0]["url"], routed=False)).data
            self.member_details = found
            self.member_endpoints = list(spec.models.VersionDetails.model_validate(found).endpoints)
            self.member_credentials = theirs
            return ok(spec.answer_credentials(self).to_json())

        receiver_path = f"/ocpi/hub/{number}/receiver"

        @app.api_route(receiver_path + "/{module}/{rest:path}", methods=["PUT", "PATCH"])
        @app.api_route(receiver_path + "/{module}", methods=["POST"])
        async def receive(request: Request, module: str, rest: str = "") -> JSONResponse:
            if not authorized(request, self.token_c):
                return unauthorized()
            segments = [part for part in rest.split("/") if part]
            body = await request.json()
            model = spec.received_model(module, request.method, len(segments))
            if model is None:
                return refuse(f"{request.method} {module} {segments}: not a {number} interface")
            parsed = validate(model, body, model.__name__)
            if isinstance(parsed, str):
                return refuse(parsed)
            self.received.append(Received(request.method, module, segments, body, parsed))
            if module == "cdrs":
                return ok(Location=f"{spec.hub_url('receiver')}/cdrs/{body['id']}")
            return ok()

        @app.post(receiver_path + "/commands/{command}")
        async def command(request: Request, command: str) -> JSONResponse:
            if not authorized(request, self.token_c):
                return unauthorized()
            body = await request.json()
            model = spec.command_model(command)
            if model is None:
                return refuse(f"{command} is not a {number} command")
            parsed = validate(model, body, command)
            if isinstance(parsed, str):
                return refuse(parsed)
            self.received.append(Received("POST", "commands", [command], body, parsed))
            return ok(spec.command_answer(self.command_answer))

        @app.post(f"/ocpi/hub/{number}/results/{{command_id}}")
        async def result(request: Request, command_id: str) -> JSONResponse:
            authorized(request)  # notes routing headers; a response_url takes any caller
            body = await request.json()
            model = getattr(spec.models, spec.result)
            parsed = validate(model, body, model.__name__)
            if isinstance(parsed, str):
                return refuse(parsed)
            self.received.append(Received("POST", "results", [command_id], body, parsed))
            return ok()

        @app.get(f"/ocpi/hub/{number}/sender/{{module}}")
        async def listed(request: Request, module: str) -> JSONResponse:
            if not authorized(request, self.token_c):
                return unauthorized()
            items = self.sender_data.get(module, [])
            return ok(items, **{"X-Total-Count": str(len(items)), "X-Limit": "100"})

        @app.post(f"/ocpi/hub/{number}/sender/tokens/{{uid}}/authorize")
        async def authorize(request: Request, uid: str) -> JSONResponse:
            if not authorized(request, self.token_c):
                return unauthorized()
            if spec.references and await request.body():
                references = spec.models.LocationReferences
                parsed = validate(references, await request.json(), "references")
                if isinstance(parsed, str):
                    return refuse(parsed)
                self.received.append(Received("POST", "authorize", [uid], parsed, parsed))
            return ok(self.authorization)

        return app


def _credentials_211(hub: HubDouble[v211.Credentials]) -> v211.Credentials:
    return v211.Credentials(
        token=hub.token_c,
        url=f"{hub.spec.base}/ocpi/versions",
        business_details=v211.BusinessDetails(name="Hub 2.1.1"),
        country_code=HUB.country_code,
        party_id=HUB.party_id,
    )


def _credentials_230(hub: HubDouble[v230.Credentials]) -> v230.Credentials:
    return v230.Credentials(
        token=hub.token_c,
        url=f"{hub.spec.base}/ocpi/versions",
        hub_party_id=f"{HUB.country_code}{HUB.party_id}",
        roles=hub.reachable,
    )


V211 = HubVersion(
    number="2.1.1",
    listed=("2.1.1", "2.2.1"),
    credentials=v211.Credentials,
    models=v211,
    commands=("START_SESSION", "STOP_SESSION", "RESERVE_NOW", "UNLOCK_CONNECTOR"),
    result="CommandResponse",
    references=True,
    roles=False,
    routing=False,
    base64_tokens=False,
    strict_fields=True,
    # Spec 2.1.1 mod_commands §2.1.1: the data is a bare CommandResponseType.
    command_answer=lambda answer: answer,
    answer_credentials=_credentials_211,
)
V230 = HubVersion(
    number="2.3.0",
    listed=("2.2.1", "2.3.0"),
    credentials=v230.Credentials,
    models=v230,
    commands=(*V211.commands, "CANCEL_RESERVATION"),
    result="CommandResult",
    references=False,
    roles=True,
    routing=True,
    base64_tokens=True,
    strict_fields=False,
    command_answer=lambda answer: {"result": answer, "timeout": 30},
    answer_credentials=_credentials_230,
)
