"""A test double: a minimal OCPI 2.3.0 member platform (one CPO or one eMSP).

It speaks 2.3.0: its versions list offers 2.3.0 (and, when asked, 2.2.1 too, to switch
versions with a credentials PUT), it registers with a hub through the hub's credentials
endpoint of the version it chooses and reads a 2.3.0 answer with the 2.3.0 Credentials model,
and it offers both interfaces of every functional module at
`/ocpi/{version}/{sender|receiver}/{module}`.
It keeps no objects: it records every functional request it receives (`received`, bodies as
JSON) and answers with the data a test put in `answers` for the (method, path below
/ocpi/2.3.0) it is asked (default: 1000 without data). It imports only `ocpi` and libraries.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ocpi.envelope import envelope_dict
from ocpi.headers import (
    PartyRef,
    RoutingHeaders,
    encode_authorization,
    new_request_id,
    token_candidates,
)
from ocpi.v230.credentials import Credentials
from ocpi.v230.types import Role
from ocpi.wire_json import read_json

VERSION = "2.3.0"
MODULES = ("cdrs", "chargingprofiles", "commands", "locations", "sessions", "tariffs", "tokens")


@dataclass
class Received:
    method: str
    path: str
    """Below /ocpi/{version}, with the query: "/receiver/locations/DE/CPB/LOC1"."""
    headers: dict[str, str]
    body: Any
    version: str = VERSION
    """The version of the URL it arrived at."""


@dataclass
class V230Member:
    role: str
    """"CPO" or "EMSP" (a 2.3.0 Role value)."""
    party: PartyRef
    base_url: str
    http: httpx.AsyncClient
    name: str = "2.3.0 member"
    token_b: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    """What the hub sends to call this member."""
    token_c: str | None = None
    """What this member sends to call the hub (from the hub's credentials)."""
    hub_credentials: Credentials | None = None
    hub_endpoints: dict[tuple[str, str], str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    answers: dict[tuple[str, str], Any] = field(default_factory=dict)
    token_a: str | None = None
    """A token A this member handed out, for a hub-initiated handshake (POST credentials)."""
    versions: tuple[str, ...] = (VERSION,)
    """The versions it offers (the same endpoints under each version's URLs)."""
    version: str = VERSION
    """The version it registered with the hub."""

    def __post_init__(self) -> None:
        routes = [Route("/ocpi/versions", self._versions, methods=["GET"])]
        for version in self.versions:
            base = f"/ocpi/{version}"
            routes += [
                Route(base, self._details, methods=["GET"]),
                Route(base + "/credentials", self._credentials, methods=["POST"]),
                Route(base + "/{rest:path}", self._functional, methods=_METHODS),
            ]
        self.app = Starlette(routes=routes)

    # --- its own credentials and the handshake -----------------------------------------
    def own_credentials(self) -> dict[str, Any]:
        return {
            "token": self.token_b,
            "url": f"{self.base_url}/ocpi/versions",
            "roles": [
                {
                    "role": Role(self.role).value,
                    "business_details": {"name": self.name},
                    "country_code": self.party.country_code,
                    "party_id": self.party.party_id,
                }
            ],
        }

    async def register(
        self, versions_url: str, token_a: str, version: str = VERSION
    ) -> httpx.Response:
        """GET the hub's versions, pick `version`, GET its details, POST credentials there."""
        return await self._handshake("POST", versions_url, token_a, version)

    async def update_credentials(self, version: str) -> httpx.Response:
        """PUT new credentials (a new token B) at the hub's credentials endpoint of `version`
        (how a platform switches versions)."""
        assert self.token_c is not None and self.hub_versions_url is not None
        self.token_b = secrets.token_urlsafe(16)
        return await self._handshake("PUT", self.hub_versions_url, self.token_c, version)

    hub_versions_url: str | None = None

    async def _handshake(
        self, method: str, versions_url: str, token: str, version: str
    ) -> httpx.Response:
        auth = {"Authorization": encode_authorization(token)}
        versions = (await self.http.get(versions_url, headers=auth)).json()["data"]
        details_url = next(v["url"] for v in versions if v["version"] == version)
        details = (await self.http.get(details_url, headers=auth)).json()["data"]
        assert details["version"] == version
        endpoints = {(e["identifier"], e["role"]): e["url"] for e in details["endpoints"]}
        response = await self.http.request(
            method, endpoints[("credentials", "SENDER")], json=self.own_credentials(), headers=auth
        )
        envelope = response.json()
        if envelope["status_code"] == 1000:
            self.hub_endpoints = endpoints
            self.hub_versions_url = versions_url
            self.version = version
            self.token_c = envelope["data"]["token"]
            self.hub_credentials = (
                Credentials.model_validate(envelope["data"]) if version == VERSION else None
            )
        return response

    async def _credentials(self, request: Request) -> JSONResponse:
        """POST credentials by a hub holding our token A: read its 2.3.0 credentials, fetch
        its 2.3.0 details with its token, answer with ours."""
        if self.token_a is None or not self._authorised(request, self.token_a):
            return _envelope(None, status=2000, message="unknown token", http_status=401)
        theirs = Credentials.model_validate(read_json(await request.body()))
        auth = {"Authorization": encode_authorization(theirs.token)}
        versions = (await self.http.get(theirs.url, headers=auth)).json()["data"]
        details_url = next(v["url"] for v in versions if v["version"] == VERSION)
        details = (await self.http.get(details_url, headers=auth)).json()["data"]
        self.hub_endpoints = {(e["identifier"], e["role"]): e["url"] for e in details["endpoints"]}
        self.hub_credentials = theirs
        self.token_c = theirs.token
        self.token_a = None
        return _envelope(self.own_credentials())

    # --- calling the hub -----------------------------------------------------------------
    async def send(
        self,
        method: str,
        module: str,
        interface: str,
        path: str = "",
        body: Any = None,
        to: PartyRef | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One functional request to the hub with FROM = this member, TO = `to` (or none)."""
        assert self.token_c is not None, "register first"
        url = self.hub_endpoints[(module, interface)] + path
        headers = {
            "Authorization": encode_authorization(self.token_c),
            "X-Request-ID": new_request_id(),
            "X-Correlation-ID": new_request_id(),
            **RoutingHeaders(to=to, from_=self.party).to_headers(),
        }
        return await self.http.request(method, url, json=body, headers=headers, params=params)

    # --- its endpoints -------------------------------------------------------------------
    def _authorised(self, request: Request, *tokens: str | None) -> bool:
        try:
            offered = token_candidates(request.headers.get("Authorization"))
        except ValueError:
            return False
        return any(token in offered for token in tokens if token)

    async def _versions(self, request: Request) -> JSONResponse:
        return _envelope(
            [{"version": v, "url": f"{self.base_url}/ocpi/{v}"} for v in self.versions]
        )

    async def _details(self, request: Request) -> JSONResponse:
        version = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        base = f"{self.base_url}/ocpi/{version}"
        endpoints = [
            {"identifier": "credentials", "role": "SENDER", "url": f"{base}/credentials"},
            {"identifier": "hubclientinfo", "role": "RECEIVER", "url": f"{base}/hubclientinfo"},
        ]
        for module in MODULES:
            for role in ("SENDER", "RECEIVER"):
                endpoints.append(
                    {"identifier": module, "role": role, "url": f"{base}/{role.lower()}/{module}"}
                )
        return _envelope({"version": version, "endpoints": endpoints})

    async def _functional(self, request: Request) -> JSONResponse:
        if not self._authorised(request, self.token_b):
            return _envelope(None, status=2000, message="unknown token", http_status=401)
        raw = await request.body()
        path = "/" + request.path_params["rest"]
        if request.url.query:
            path += f"?{request.url.query}"
        self.received.append(
            Received(
                request.method,
                path,
                {k.lower(): v for k, v in request.headers.items()},
                read_json(raw) if raw else None,
                request.url.path.split("/")[2],
            )
        )
        return _envelope(self.answers.get((request.method, path)))


_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _envelope(
    data: Any, *, status: int = 1000, message: str | None = None, http_status: int = 200
) -> JSONResponse:
    return JSONResponse(
        envelope_dict(data, status_code=status, status_message=message), status_code=http_status
    )
