"""What the member doubles of tests/doubles/v211_member.py and v230_member.py share: a minimal
OCPI member platform (one CPO or one eMSP) of one version, talking to the real hub.

It keeps no objects: it records every functional request it receives (`received`, bodies as
JSON) and answers with the data a test put in `answers` for the (method, path below
/ocpi/{version}) it is asked (default: 1000 without data). What differs between the versions
is said by the subclass: `VERSION`, `MODULES`, `ROLES` (2.2 on: endpoints name their
interface, tokens are Base64 encoded, requests carry routing headers; 2.1.1: one URL a module,
the token as it is, no routing headers) and its credentials. It imports only `ocpi` and
libraries.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ocpi.envelope import envelope_dict
from ocpi.headers import PartyRef, encode_authorization, new_request_id, token_candidates
from ocpi.wire_json import read_json

K = TypeVar("K", str, tuple[str, str])
"""How the hub's endpoints are keyed: by module (2.1.1) or by (module, role)."""


@dataclass
class Received:
    method: str
    path: str
    """Below /ocpi/{version}, with the query: "/locations/DE/CPB/LOC1" (2.1.1),
    "/receiver/locations/DE/CPB/LOC1" (2.3.0)."""
    headers: dict[str, str]
    body: Any
    version: str = ""
    """The version of the URL it arrived at."""


@dataclass
class MemberDouble(Generic[K]):
    VERSION: ClassVar[str]
    MODULES: ClassVar[tuple[str, ...]]
    ROLES: ClassVar[bool]
    """Whether endpoints name their interface, tokens are Base64 and routing headers are sent
    (2.2 on); 2.1.1 has none of them."""

    role: str
    """"CPO" or "EMSP"."""
    party: PartyRef
    base_url: str
    http: httpx.AsyncClient
    name: str = ""
    token_b: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    """What the hub sends to call this member."""
    token_c: str | None = None
    """What this member sends to call the hub (from the hub's credentials)."""
    hub_endpoints: dict[K, str] = field(default_factory=dict)
    """The hub's endpoints, keyed by module (2.1.1) or by (module, role)."""
    received: list[Received] = field(default_factory=list)
    answers: dict[tuple[str, str], Any] = field(default_factory=dict)
    versions: tuple[str, ...] = ()
    """The versions it offers (the same endpoints under each version's URLs; default: its
    own)."""

    def __post_init__(self) -> None:
        self.name = self.name or f"{self.VERSION} member"
        self.versions = self.versions or (self.VERSION,)
        routes = [Route("/ocpi/versions", self._versions, methods=["GET"])]
        for version in self.versions:
            routes += self._version_routes(f"/ocpi/{version}")
        self.app = Starlette(routes=routes)

    def _version_routes(self, base: str) -> list[Route]:
        return [
            Route(base, self._details, methods=["GET"]),
            Route(base + "/{rest:path}", self._functional, methods=_METHODS),
        ]

    # --- tokens ----------------------------------------------------------------------------
    def _authorization(self, token: str) -> str:
        # 2.1.1 sends the token as it is; 2.2 on Base64 encodes it.
        return encode_authorization(token) if self.ROLES else f"Token {token}"

    def _authorised(self, request: Request, *tokens: str | None) -> bool:
        given = request.headers.get("Authorization")
        if not self.ROLES:
            # 2.1.1's rule only: `Token <token>`, unencoded (a Base64 token is not this one).
            return any(given == f"Token {token}" for token in tokens if token)
        try:
            offered = token_candidates(given)
        except ValueError:
            return False
        return any(token in offered for token in tokens if token)

    # --- the handshake ---------------------------------------------------------------------
    def _key(self, endpoint: dict[str, str]) -> K:
        raise NotImplementedError

    async def _hub_details(self, versions_url: str, token: str, version: str) -> Any:
        """GET the hub's versions with `token`, pick `version`, GET its details."""
        auth = {"Authorization": self._authorization(token)}
        versions = (await self.http.get(versions_url, headers=auth)).json()["data"]
        details_url = next(v["url"] for v in versions if v["version"] == version)
        return (await self.http.get(details_url, headers=auth)).json()["data"]

    async def _handshake(
        self, method: str, versions_url: str, token: str, version: str
    ) -> tuple[httpx.Response, Any]:
        """Find the hub's credentials endpoint of `version` and `method` ours there; on 1000
        keep its endpoints and token C. The response and the hub's details."""
        details = await self._hub_details(versions_url, token, version)
        assert details["version"] == version
        endpoints = {self._key(e): e["url"] for e in details["endpoints"]}
        credentials = endpoints[self._key({"identifier": "credentials", "role": "SENDER"})]
        auth = {"Authorization": self._authorization(token)}
        response = await self.http.request(
            method, credentials, json=self.own_credentials(), headers=auth
        )
        envelope = response.json()
        if envelope["status_code"] == 1000:
            self.hub_endpoints = endpoints
            self.token_c = envelope["data"]["token"]
        return response, details

    def own_credentials(self) -> dict[str, Any]:
        raise NotImplementedError

    # --- calling the hub -----------------------------------------------------------------
    async def _request(
        self,
        method: str,
        url: str,
        body: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        assert self.token_c is not None, "register first"
        sent = {
            "Authorization": self._authorization(self.token_c),
            "X-Request-ID": new_request_id(),
            "X-Correlation-ID": new_request_id(),
            **(headers or {}),
        }
        return await self.http.request(method, url, json=body, headers=sent, params=params)

    # --- its endpoints -------------------------------------------------------------------
    async def _versions(self, request: Request) -> JSONResponse:
        return envelope([{"version": v, "url": f"{self.base_url}/ocpi/{v}"} for v in self.versions])

    async def _details(self, request: Request) -> JSONResponse:
        version = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        base = f"{self.base_url}/ocpi/{version}"
        if not self.ROLES:
            endpoints = [{"identifier": "credentials", "url": f"{base}/credentials"}]
            endpoints += [{"identifier": m, "url": f"{base}/{m}"} for m in self.MODULES]
            return envelope({"version": version, "endpoints": endpoints})
        endpoints = [
            {"identifier": "credentials", "role": "SENDER", "url": f"{base}/credentials"},
            {"identifier": "hubclientinfo", "role": "RECEIVER", "url": f"{base}/hubclientinfo"},
        ]
        for module in self.MODULES:
            for role in ("SENDER", "RECEIVER"):
                endpoints.append(
                    {"identifier": module, "role": role, "url": f"{base}/{role.lower()}/{module}"}
                )
        return envelope({"version": version, "endpoints": endpoints})

    async def _functional(self, request: Request) -> JSONResponse:
        if not self._authorised(request, self.token_b):
            return envelope(None, status=2000, message="unknown token", http_status=401)
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
        return envelope(self.answers.get((request.method, path)))


_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def envelope(
    data: Any, *, status: int = 1000, message: str | None = None, http_status: int = 200
) -> JSONResponse:
    return JSONResponse(
        envelope_dict(data, status_code=status, status_message=message), status_code=http_status
    )
