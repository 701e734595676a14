"""A test double: a minimal OCPI 2.3.0 member platform (one CPO or one eMSP).

It speaks 2.3.0: its versions list offers 2.3.0 (and, when asked, 2.2.1 too, to switch
versions with a credentials PUT), it registers with a hub through the hub's credentials
endpoint of the version it chooses and reads a 2.3.0 answer with the 2.3.0 Credentials model,
and it offers both interfaces of every functional module at
`/ocpi/{version}/{sender|receiver}/{module}`. What it shares with the 2.1.1 double is
`MemberDouble` of tests/doubles/member_versions.py.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ocpi.headers import PartyRef, RoutingHeaders
from ocpi.v230.credentials import Credentials
from ocpi.v230.types import Role
from ocpi.wire_json import read_json
from tests.doubles.member_versions import MemberDouble, Received, envelope

__all__ = ["MODULES", "VERSION", "Received", "V230Member"]

VERSION = "2.3.0"
MODULES = ("cdrs", "chargingprofiles", "commands", "locations", "sessions", "tariffs", "tokens")


@dataclass
class V230Member(MemberDouble[tuple[str, str]]):
    """`role` is a 2.3.0 Role value; `hub_endpoints` are keyed by (module, role)."""

    VERSION: ClassVar[str] = VERSION
    MODULES: ClassVar[tuple[str, ...]] = MODULES
    ROLES: ClassVar[bool] = True

    hub_credentials: Credentials | None = None
    token_a: str | None = None
    """A token A this member handed out, for a hub-initiated handshake (POST credentials)."""
    version: str = VERSION
    """The version it registered with the hub."""
    hub_versions_url: str | None = None

    def _version_routes(self, base: str) -> list[Route]:
        [details, functional] = super()._version_routes(base)
        credentials = Route(base + "/credentials", self._credentials, methods=["POST"])
        return [details, credentials, functional]

    def _key(self, endpoint: dict[str, str]) -> tuple[str, str]:
        return endpoint["identifier"], endpoint["role"]

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
        return await self._switch("POST", versions_url, token_a, version)

    async def update_credentials(self, version: str) -> httpx.Response:
        """PUT new credentials (a new token B) at the hub's credentials endpoint of `version`
        (how a platform switches versions)."""
        assert self.token_c is not None and self.hub_versions_url is not None
        self.token_b = secrets.token_urlsafe(16)
        return await self._switch("PUT", self.hub_versions_url, self.token_c, version)

    async def _switch(
        self, method: str, versions_url: str, token: str, version: str
    ) -> httpx.Response:
        response, _ = await self._handshake(method, versions_url, token, version)
        envelope = response.json()
        if envelope["status_code"] == 1000:
            self.hub_versions_url = versions_url
            self.version = version
            self.hub_credentials = (
                Credentials.model_validate(envelope["data"]) if version == VERSION else None
            )
        return response

    async def _credentials(self, request: Request) -> JSONResponse:
        """POST credentials by a hub holding our token A: read its 2.3.0 credentials, fetch
        its 2.3.0 details with its token, answer with ours."""
        if self.token_a is None or not self._authorised(request, self.token_a):
            return envelope(None, status=2000, message="unknown token", http_status=401)
        theirs = Credentials.model_validate(read_json(await request.body()))
        details = await self._hub_details(theirs.url, theirs.token, VERSION)
        self.hub_endpoints = {self._key(e): e["url"] for e in details["endpoints"]}
        self.hub_credentials = theirs
        self.token_c = theirs.token
        self.token_a = None
        return envelope(self.own_credentials())

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
        routing = RoutingHeaders(to=to, from_=self.party).to_headers()
        return await self._request(method, url, body, params, routing)
