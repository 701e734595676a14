"""A small OCPI 2.3.0 hub double, for members configured with `version = "2.3.0"`.

It does what a 2.3.0 hub does towards one member and nothing more: versions (2.2.1 and 2.3.0
listed, only 2.3.0 details served), the credentials handshake answered the 2.3.0 way
(`hub_party_id` and the reachable parties in `roles`, docs/versions.md), and Receiver and
Sender interfaces of the functional modules. Every body it receives is validated against the
2.3.0 models of `ocpi.v230` written out here (not through the member kit's adapters), kept in
`received`, and refused with 2001 when invalid (`refused`). `call()` talks to the member as
the hub would. Written only against `ocpi/`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from ocpi import v230
from ocpi.client import OcpiClient, OcpiResponse
from ocpi.envelope import envelope_dict
from ocpi.headers import PartyRef, encode_authorization
from ocpi.v221.versions import InterfaceRole, ModuleID

HUB = PartyRef("NL", "HUB")
BASE = "http://hub230.test"
RECEIVER = f"{BASE}/ocpi/hub/2.3.0/receiver"
SENDER = f"{BASE}/ocpi/hub/2.3.0/sender"
RESULTS = f"{BASE}/ocpi/hub/2.3.0/results"
MODULES = ("locations", "tariffs", "sessions", "cdrs", "tokens", "commands")

_RECEIVED_MODELS: dict[tuple[str, str, int], type[BaseModel]] = {
    ("locations", "PUT", 3): v230.Location,
    ("locations", "PUT", 4): v230.EVSE,
    ("locations", "PUT", 5): v230.Connector,
    ("locations", "PATCH", 3): v230.LocationPatch,
    ("locations", "PATCH", 4): v230.EVSEPatch,
    ("locations", "PATCH", 5): v230.ConnectorPatch,
    ("tariffs", "PUT", 3): v230.Tariff,
    ("sessions", "PUT", 3): v230.Session,
    ("sessions", "PATCH", 3): v230.SessionPatch,
    ("cdrs", "POST", 0): v230.CDR,
    ("tokens", "PUT", 3): v230.Token,
    ("tokens", "PATCH", 3): v230.TokenPatch,
}
_COMMAND_MODELS: dict[str, type[BaseModel]] = {
    "START_SESSION": v230.StartSession,
    "STOP_SESSION": v230.StopSession,
    "RESERVE_NOW": v230.ReserveNow,
    "CANCEL_RESERVATION": v230.CancelReservation,
    "UNLOCK_CONNECTOR": v230.UnlockConnector,
}


@dataclass
class Received:
    """One body the hub accepted: where it came, and the 2.3.0 object it validated as."""

    method: str
    module: str
    segments: list[str]
    body: Any
    parsed: BaseModel


@dataclass
class Hub230:
    http: httpx.AsyncClient
    """How the hub reaches the member (an in-process network in tests)."""
    reachable: list[v230.CredentialsRole] = field(default_factory=list)
    """The parties the hub's credentials list in `roles`."""
    token_a: str = "hub230-token-a"
    token_c: str = "hub230-token-c"
    sender_data: dict[str, list[Any]] = field(default_factory=dict)
    """What GET on a Sender interface lists, per module (2.3.0 JSON)."""
    authorization: dict[str, Any] | None = None
    """What POST {tokens}/{uid}/authorize answers (an AuthorizationInfo as 2.3.0 JSON)."""
    member_credentials: v230.Credentials | None = None
    member_endpoints: list[v230.Endpoint] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    app: FastAPI = field(init=False)

    def __post_init__(self) -> None:
        self.app = self._build()

    # --- what the hub received ----------------------------------------------------------
    def bodies(self, module: str, method: str | None = None) -> list[Received]:
        return [r for r in self.received if r.module == module and method in (None, r.method)]

    # --- the member, as the hub calls it -------------------------------------------------
    def member_url(self, module: ModuleID, role: InterfaceRole) -> str:
        for endpoint in self.member_endpoints:
            if endpoint.identifier == module and endpoint.role is role:
                return endpoint.url
        raise AssertionError(f"the member's details have no {module.value} {role.value}")

    async def call(
        self,
        method: str,
        url: str,
        body: Any = None,
        *,
        sender: PartyRef = HUB,
        to: PartyRef | None = None,
        params: dict[str, str] | None = None,
        routed: bool = True,
    ) -> OcpiResponse:
        assert self.member_credentials is not None, "the member has not registered"
        client = OcpiClient(self.http, self.member_credentials.token, from_party=sender)
        to = to or PartyRef(
            self.member_credentials.roles[0].country_code,
            self.member_credentials.roles[0].party_id,
        )
        return await client.request(
            method, url, json_body=body, to=to, params=params, routed=routed
        )

    # --- the app ---------------------------------------------------------------------------
    def _build(self) -> FastAPI:
        app = FastAPI()

        def ok(data: Any = None, **headers: str) -> JSONResponse:
            return JSONResponse(envelope_dict(data), headers=headers or None)

        def refuse(message: str) -> JSONResponse:
            self.refused.append(message)
            return JSONResponse(envelope_dict(status_code=2001, status_message=message))

        def authorized(request: Request, *tokens: str) -> bool:
            given = request.headers.get("Authorization", "")
            return any(given == encode_authorization(token) for token in tokens)

        def unauthorized() -> JSONResponse:
            return JSONResponse(envelope_dict(status_code=2000, status_message="?"), 401)

        def validate(model: type[BaseModel], body: Any, what: str) -> BaseModel | str:
            try:
                return model.model_validate(body)
            except ValidationError as exc:
                return f"not a valid 2.3.0 {what}: {exc}"

        @app.get("/ocpi/versions")
        async def versions(request: Request) -> JSONResponse:
            if not authorized(request, self.token_a, self.token_c):
                return unauthorized()
            return ok(
                [
                    {"version": "2.2.1", "url": f"{BASE}/ocpi/2.2.1"},
                    {"version": "2.3.0", "url": f"{BASE}/ocpi/2.3.0"},
                ]
            )

        @app.get("/ocpi/2.3.0")
        async def details(request: Request) -> JSONResponse:
            if not authorized(request, self.token_a, self.token_c):
                return unauthorized()
            endpoints = [
                {"identifier": "credentials", "role": "SENDER", "url": f"{BASE}/ocpi/2.3.0/cred"},
                *(
                    {"identifier": module, "role": role, "url": f"{base}/{module}"}
                    for module in MODULES
                    for role, base in (("RECEIVER", RECEIVER), ("SENDER", SENDER))
                ),
            ]
            return ok({"version": "2.3.0", "endpoints": endpoints})

        @app.post("/ocpi/2.3.0/cred")
        async def credentials(request: Request) -> JSONResponse:
            if not authorized(request, self.token_a):
                return unauthorized()
            theirs = validate(v230.Credentials, await request.json(), "Credentials")
            if isinstance(theirs, str):
                return refuse(theirs)
            assert isinstance(theirs, v230.Credentials)
            member = OcpiClient(self.http, theirs.token)
            offered = (await member.get(theirs.url, routed=False)).data
            chosen = [v for v in offered if v["version"] == "2.3.0"]
            if [v["version"] for v in offered] != ["2.3.0"]:
                return refuse(f"the member should offer 2.3.0 only, not {offered}")
            found = (await member.get(chosen[0]["url"], routed=False)).data
            self.member_endpoints = v230.VersionDetails.model_validate(found).endpoints
            self.member_credentials = theirs
            answer = v230.Credentials(
                token=self.token_c,
                url=f"{BASE}/ocpi/versions",
                hub_party_id=f"{HUB.country_code}{HUB.party_id}",
                roles=self.reachable,
            )
            return ok(answer.to_json())

        @app.api_route("/ocpi/hub/2.3.0/receiver/{module}/{rest:path}", methods=["PUT", "PATCH"])
        @app.api_route("/ocpi/hub/2.3.0/receiver/{module}", methods=["POST"])
        async def receive(request: Request, module: str, rest: str = "") -> JSONResponse:
            if not authorized(request, self.token_c):
                return unauthorized()
            segments = [part for part in rest.split("/") if part]
            body = await request.json()
            model = _RECEIVED_MODELS.get((module, request.method, len(segments)))
            if model is None:
                return refuse(f"{request.method} {module} {segments}: not a 2.3.0 interface")
            parsed = validate(model, body, model.__name__)
            if isinstance(parsed, str):
                return refuse(parsed)
            self.received.append(Received(request.method, module, segments, body, parsed))
            if module == "cdrs":
                return ok(Location=f"{RECEIVER}/cdrs/{body['id']}")
            return ok()

        @app.post("/ocpi/hub/2.3.0/receiver/commands/{command}")
        async def command(request: Request, command: str) -> JSONResponse:
            if not authorized(request, self.token_c):
                return unauthorized()
            body = await request.json()
            parsed = validate(_COMMAND_MODELS[command], body, command)
            if isinstance(parsed, str):
                return refuse(parsed)
            self.received.append(Received("POST", "commands", [command], body, parsed))
            return ok({"result": "ACCEPTED", "timeout": 30})

        @app.post("/ocpi/hub/2.3.0/results/{command_id}")
        async def result(request: Request, command_id: str) -> JSONResponse:
            body = await request.json()
            parsed = validate(v230.CommandResult, body, "CommandResult")
            if isinstance(parsed, str):
                return refuse(parsed)
            self.received.append(Received("POST", "results", [command_id], body, parsed))
            return ok()

        @app.get("/ocpi/hub/2.3.0/sender/{module}")
        async def listed(request: Request, module: str) -> JSONResponse:
            if not authorized(request, self.token_c):
                return unauthorized()
            items = self.sender_data.get(module, [])
            return ok(items, **{"X-Total-Count": str(len(items)), "X-Limit": "100"})

        @app.post("/ocpi/hub/2.3.0/sender/tokens/{uid}/authorize")
        async def authorize(request: Request, uid: str) -> JSONResponse:
            if not authorized(request, self.token_c):
                return unauthorized()
            return ok(self.authorization)

        return app
