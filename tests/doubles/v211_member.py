"""A test double: a minimal OCPI 2.1.1 member platform (one CPO or one eMSP).

It speaks 2.1.1 only: its versions list offers 2.1.1, its details name one URL per module
(`/ocpi/2.1.1/{module}`, no role: 2.1.1 endpoints have none), it registers with a hub through
the hub's 2.1.1 credentials endpoint with 2.1.1 Credentials (one party, no role) and reads
the answer with the 2.1.1 model. It sends no routing headers (2.1.1 has none).
It keeps no objects: it records every functional request it receives (`received`, bodies as
JSON) and answers with the data a test put in `answers` for the (method, path below
/ocpi/2.1.1) it is asked (default: 1000 without data). It imports only `ocpi` and libraries.
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
from ocpi.headers import PartyRef, new_request_id
from ocpi.v211.credentials import Credentials
from ocpi.wire_json import read_json

VERSION = "2.1.1"
MODULES = ("cdrs", "commands", "locations", "sessions", "tariffs", "tokens")


@dataclass
class Received:
    method: str
    path: str
    """Below /ocpi/2.1.1, with the query: "/locations/DE/CPB/LOC1"."""
    headers: dict[str, str]
    body: Any


@dataclass
class V211Member:
    role: str
    """"CPO" or "EMSP": what its invitation names (2.1.1 credentials carry no role)."""
    party: PartyRef
    base_url: str
    http: httpx.AsyncClient
    name: str = "2.1.1 member"
    token_b: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    """What the hub sends to call this member."""
    token_c: str | None = None
    """What this member sends to call the hub (from the hub's credentials)."""
    hub_credentials: Credentials | None = None
    hub_endpoints: dict[str, str] = field(default_factory=dict)
    """The hub's 2.1.1 endpoints by module."""
    hub_details: dict[str, Any] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    answers: dict[tuple[str, str], Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        base = f"/ocpi/{VERSION}"
        routes = [
            Route("/ocpi/versions", self._versions, methods=["GET"]),
            Route(base, self._details, methods=["GET"]),
            Route(base + "/{rest:path}", self._functional, methods=_METHODS),
        ]
        self.app = Starlette(routes=routes)

    # --- its own credentials and the handshake -----------------------------------------
    def own_credentials(self) -> dict[str, Any]:
        return {
            "token": self.token_b,
            "url": f"{self.base_url}/ocpi/versions",
            "business_details": {"name": self.name},
            "country_code": self.party.country_code,
            "party_id": self.party.party_id,
        }

    async def register(self, versions_url: str, token_a: str) -> httpx.Response:
        """GET the hub's versions, pick 2.1.1, GET its details, POST credentials there."""
        auth = {"Authorization": f"Token {token_a}"}  # 2.1.1: the token as it is
        versions = (await self.http.get(versions_url, headers=auth)).json()["data"]
        details_url = next(v["url"] for v in versions if v["version"] == VERSION)
        details = (await self.http.get(details_url, headers=auth)).json()["data"]
        assert details["version"] == VERSION
        endpoints = {e["identifier"]: e["url"] for e in details["endpoints"]}
        response = await self.http.post(
            endpoints["credentials"], json=self.own_credentials(), headers=auth
        )
        envelope = response.json()
        if envelope["status_code"] == 1000:
            self.hub_details = details
            self.hub_endpoints = endpoints
            self.token_c = envelope["data"]["token"]
            self.hub_credentials = Credentials.model_validate(envelope["data"])
        return response

    # --- calling the hub -----------------------------------------------------------------
    async def send(
        self,
        method: str,
        module: str,
        path: str = "",
        body: Any = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One functional request to the hub's 2.1.1 `module` URL: no routing headers."""
        assert self.token_c is not None, "register first"
        return await self.call(method, self.hub_endpoints[module] + path, body, params)

    async def call(
        self, method: str, url: str, body: Any = None, params: dict[str, str] | None = None
    ) -> httpx.Response:
        """A request to a URL the hub handed out (a response_url, a CDR's Location)."""
        assert self.token_c is not None, "register first"
        headers = {
            "Authorization": f"Token {self.token_c}",
            "X-Request-ID": new_request_id(),
            "X-Correlation-ID": new_request_id(),
        }
        return await self.http.request(method, url, json=body, headers=headers, params=params)

    # --- its endpoints -------------------------------------------------------------------
    def _authorised(self, request: Request, *tokens: str | None) -> bool:
        """2.1.1's rule only: `Token <token>`, unencoded (a Base64 token is not this one)."""
        given = request.headers.get("Authorization")
        return any(given == f"Token {token}" for token in tokens if token)

    async def _versions(self, request: Request) -> JSONResponse:
        return _envelope([{"version": VERSION, "url": f"{self.base_url}/ocpi/{VERSION}"}])

    async def _details(self, request: Request) -> JSONResponse:
        base = f"{self.base_url}/ocpi/{VERSION}"
        endpoints = [{"identifier": "credentials", "url": f"{base}/credentials"}]
        endpoints += [{"identifier": module, "url": f"{base}/{module}"} for module in MODULES]
        return _envelope({"version": VERSION, "endpoints": endpoints})

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
