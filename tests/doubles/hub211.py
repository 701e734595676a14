"""A small OCPI 2.1.1 hub double, for members configured with `version = "2.1.1"`.

It does what a 2.1.1 peer does towards one member and nothing more: versions (2.1.1 and 2.2.1
listed, only 2.1.1 details served, endpoints without roles: one URL per module, the interface
the member's role calls), the 2.1.1 credentials handshake (one party, no roles), and the
functional interfaces. Every body it receives is validated against the 2.1.1 models of
`ocpi.v211` (not through the member kit's adapters; a top-level field the model lacks is
refused too), kept in `received`, and refused with 2001 when invalid (`refused`); a request
that carries a message routing header (2.1.1 has none) is noted in `refused` too. `call()`
talks to the member as a 2.1.1 hub would: no routing headers. Written only against `ocpi/`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from ocpi import v211
from ocpi.client import OcpiClient, OcpiResponse
from ocpi.envelope import envelope_dict
from ocpi.headers import ROUTING_HEADERS, PartyRef, encode_authorization

HUB = PartyRef("NL", "HUB")
BASE = "http://hub211.test"
RECEIVER = f"{BASE}/ocpi/hub/2.1.1/receiver"
SENDER = f"{BASE}/ocpi/hub/2.1.1/sender"
RESULTS = f"{BASE}/ocpi/hub/2.1.1/results"
MODULES = ("locations", "tariffs", "sessions", "cdrs", "tokens", "commands")
_CPO_CALLS_RECEIVER = {"locations", "tariffs", "sessions", "cdrs"}
"""The modules whose Receiver interface a CPO calls (it calls the others' Sender)."""

_RECEIVED_MODELS: dict[tuple[str, str, int], type[BaseModel]] = {
    ("locations", "PUT", 3): v211.Location,
    ("locations", "PUT", 4): v211.EVSE,
    ("locations", "PUT", 5): v211.Connector,
    ("locations", "PATCH", 3): v211.LocationPatch,
    ("locations", "PATCH", 4): v211.EVSEPatch,
    ("locations", "PATCH", 5): v211.ConnectorPatch,
    ("tariffs", "PUT", 3): v211.Tariff,
    ("sessions", "PUT", 3): v211.Session,
    ("sessions", "PATCH", 3): v211.SessionPatch,
    ("cdrs", "POST", 0): v211.CDR,
    ("tokens", "PUT", 3): v211.Token,
    ("tokens", "PATCH", 3): v211.TokenPatch,
}
_COMMAND_MODELS: dict[str, type[BaseModel]] = {
    "START_SESSION": v211.StartSession,
    "STOP_SESSION": v211.StopSession,
    "RESERVE_NOW": v211.ReserveNow,
    "UNLOCK_CONNECTOR": v211.UnlockConnector,
}
_ROUTING = frozenset(name.lower() for name in ROUTING_HEADERS)


@dataclass
class Received:
    """One body the hub accepted: where it came, and the 2.1.1 object it validated as."""

    method: str
    module: str
    segments: list[str]
    body: Any
    parsed: BaseModel


@dataclass
class Hub211:
    http: httpx.AsyncClient
    """How the hub reaches the member (an in-process network in tests)."""
    member_role: Literal["CPO", "EMSP"]
    """Which interface of each module the hub's details offer (2.1.1 endpoints have no role)."""
    token_a: str = "hub211-token-a"
    token_c: str = "hub211-token-c"
    sender_data: dict[str, list[Any]] = field(default_factory=dict)
    """What GET on a Sender interface lists, per module (2.1.1 JSON)."""
    authorization: dict[str, Any] | None = None
    """What POST {tokens}/{uid}/authorize answers (an AuthorizationInfo as 2.1.1 JSON)."""
    command_answer: str = "ACCEPTED"
    """The CommandResponseType a command POSTed to the hub is answered with."""
    member_credentials: v211.Credentials | None = None
    member_endpoints: list[v211.Endpoint] = field(default_factory=list)
    member_details: Any = None
    """The member's version details as it served them (raw JSON)."""
    received: list[Received] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    app: FastAPI = field(init=False)

    def __post_init__(self) -> None:
        self.app = self._build()

    # --- what the hub received ----------------------------------------------------------
    def bodies(self, module: str, method: str | None = None) -> list[Received]:
        return [r for r in self.received if r.module == module and method in (None, r.method)]

    # --- the member, as the hub calls it -------------------------------------------------
    def member_url(self, module: str) -> str:
        for endpoint in self.member_endpoints:
            if str(endpoint.identifier) == module:
                return endpoint.url
        raise AssertionError(f"the member's details have no {module}")

    async def call(
        self,
        method: str,
        url: str,
        body: Any = None,
        *,
        params: dict[str, str] | None = None,
    ) -> OcpiResponse:
        assert self.member_credentials is not None, "the member has not registered"
        client = OcpiClient(self.http, self.member_credentials.token)
        answer = await client.request(method, url, json_body=body, params=params, routed=False)
        carried = sorted(name for name in answer.headers if name.lower() in _ROUTING)
        if carried:
            self.refused.append(f"{method} {url}: the answer has routing headers {carried}")
        return answer

    # --- the app ---------------------------------------------------------------------------
    def _build(self) -> FastAPI:
        app = FastAPI()

        def ok(data: Any = None, **headers: str) -> JSONResponse:
            return JSONResponse(envelope_dict(data), headers=headers or None)

        def refuse(message: str) -> JSONResponse:
            self.refused.append(message)
            return JSONResponse(envelope_dict(status_code=2001, status_message=message))

        def authorized(request: Request, *tokens: str) -> bool:
            routed = sorted(name for name in request.headers if name.lower() in _ROUTING)
            if routed:
                self.refused.append(f"{request.method} {request.url}: routing headers {routed}")
            given = request.headers.get("Authorization", "")
            if any(given == encode_authorization(token) for token in tokens):
                self.refused.append(f"{request.method} {request.url}: a Base64 token (2.2)")
            # OCPI 2.1.1 sends the token as it is (transport_and_format "Request format").
            return any(given == f"Token {token}" for token in tokens)

        def unauthorized() -> JSONResponse:
            return JSONResponse(envelope_dict(status_code=2000, status_message="?"), 401)

        def validate(model: type[BaseModel], body: Any, what: str) -> BaseModel | str:
            # Stricter than the models (which ignore unknown fields): a field 2.1.1 does not
            # have is a 2.2.1 field that was not translated.
            extra = sorted(set(body) - set(model.model_fields)) if isinstance(body, dict) else []
            if extra:
                return f"not a 2.1.1 {what}: no such fields {extra}"
            try:
                return model.model_validate(body)
            except ValidationError as exc:
                return f"not a valid 2.1.1 {what}: {exc}"

        def module_url(module: str) -> str:
            calls_receiver = (module in _CPO_CALLS_RECEIVER) == (self.member_role == "CPO")
            return f"{RECEIVER if calls_receiver else SENDER}/{module}"

        @app.get("/ocpi/versions")
        async def versions(request: Request) -> JSONResponse:
            if not authorized(request, self.token_a, self.token_c):
                return unauthorized()
            return ok(
                [
                    {"version": "2.1.1", "url": f"{BASE}/ocpi/2.1.1"},
                    {"version": "2.2.1", "url": f"{BASE}/ocpi/2.2.1"},
                ]
            )

        @app.get("/ocpi/2.1.1")
        async def details(request: Request) -> JSONResponse:
            if not authorized(request, self.token_a, self.token_c):
                return unauthorized()
            endpoints = [
                {"identifier": "credentials", "url": f"{BASE}/ocpi/2.1.1/cred"},
                *({"identifier": module, "url": module_url(module)} for module in MODULES),
            ]
            return ok({"version": "2.1.1", "endpoints": endpoints})

        @app.post("/ocpi/2.1.1/cred")
        async def credentials(request: Request) -> JSONResponse:
            if not authorized(request, self.token_a):
                return unauthorized()
            theirs = validate(v211.Credentials, await request.json(), "Credentials")
            if isinstance(theirs, str):
                return refuse(theirs)
            assert isinstance(theirs, v211.Credentials)
            member = OcpiClient(self.http, theirs.token)
            offered = (await member.get(theirs.url, routed=False)).data
            if [v["version"] for v in offered] != ["2.1.1"]:
                return refuse(f"the member should offer 2.1.1 only, not {offered}")
            found = (await member.get(offered[0]["url"], routed=False)).data
            self.member_details = found
            self.member_endpoints = v211.VersionDetails.model_validate(found).endpoints
            self.member_credentials = theirs
            answer = v211.Credentials(
                token=self.token_c,
                url=f"{BASE}/ocpi/versions",
                business_details=v211.BusinessDetails(name="Hub 2.1.1"),
                country_code=HUB.country_code,
                party_id=HUB.party_id,
            )
            return ok(answer.to_json())

        @app.api_route("/ocpi/hub/2.1.1/receiver/{module}/{rest:path}", methods=["PUT", "PATCH"])
        @app.api_route("/ocpi/hub/2.1.1/receiver/{module}", methods=["POST"])
        async def receive(request: Request, module: str, rest: str = "") -> JSONResponse:
            if not authorized(request, self.token_c):
                return unauthorized()
            segments = [part for part in rest.split("/") if part]
            body = await request.json()
            model = _RECEIVED_MODELS.get((module, request.method, len(segments)))
            if model is None:
                return refuse(f"{request.method} {module} {segments}: not a 2.1.1 interface")
            parsed = validate(model, body, model.__name__)
            if isinstance(parsed, str):
                return refuse(parsed)
            self.received.append(Received(request.method, module, segments, body, parsed))
            if module == "cdrs":
                return ok(Location=f"{RECEIVER}/cdrs/{body['id']}")
            return ok()

        @app.post("/ocpi/hub/2.1.1/receiver/commands/{command}")
        async def command(request: Request, command: str) -> JSONResponse:
            if not authorized(request, self.token_c):
                return unauthorized()
            body = await request.json()
            model = _COMMAND_MODELS.get(command)
            if model is None:
                return refuse(f"{command} is not a 2.1.1 command")
            parsed = validate(model, body, command)
            if isinstance(parsed, str):
                return refuse(parsed)
            self.received.append(Received("POST", "commands", [command], body, parsed))
            # Spec 2.1.1 mod_commands §2.1.1: the data is a bare CommandResponseType.
            return ok(self.command_answer)

        @app.post("/ocpi/hub/2.1.1/results/{command_id}")
        async def result(request: Request, command_id: str) -> JSONResponse:
            authorized(request)  # notes routing headers; a response_url takes any caller
            body = await request.json()
            parsed = validate(v211.CommandResponse, body, "CommandResponse")
            if isinstance(parsed, str):
                return refuse(parsed)
            self.received.append(Received("POST", "results", [command_id], body, parsed))
            return ok()

        @app.get("/ocpi/hub/2.1.1/sender/{module}")
        async def listed(request: Request, module: str) -> JSONResponse:
            if not authorized(request, self.token_c):
                return unauthorized()
            items = self.sender_data.get(module, [])
            return ok(items, **{"X-Total-Count": str(len(items)), "X-Limit": "100"})

        @app.post("/ocpi/hub/2.1.1/sender/tokens/{uid}/authorize")
        async def authorize(request: Request, uid: str) -> JSONResponse:
            if not authorized(request, self.token_c):
                return unauthorized()
            raw = await request.body()
            if raw:
                parsed = validate(v211.LocationReferences, await request.json(), "references")
                if isinstance(parsed, str):
                    return refuse(parsed)
                self.received.append(Received("POST", "authorize", [uid], parsed, parsed))
            return ok(self.authorization)

        return app
