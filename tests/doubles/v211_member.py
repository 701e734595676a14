"""A test double: a minimal OCPI 2.1.1 member platform (one CPO or one eMSP).

It speaks 2.1.1 only: its versions list offers 2.1.1, its details name one URL per module
(`/ocpi/2.1.1/{module}`, no role: 2.1.1 endpoints have none), it registers with a hub through
the hub's 2.1.1 credentials endpoint with 2.1.1 Credentials (one party, no role) and reads
the answer with the 2.1.1 model. It sends and takes only unencoded tokens (`Token <token>`)
and sends no routing headers (2.1.1 has none). What it shares with the 2.3.0 double is
`MemberDouble` of tests/doubles/member_versions.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx

from ocpi.v211.credentials import Credentials
from tests.doubles.member_versions import MemberDouble, Received

__all__ = ["MODULES", "VERSION", "Received", "V211Member"]

VERSION = "2.1.1"
MODULES = ("cdrs", "commands", "locations", "sessions", "tariffs", "tokens")


@dataclass
class V211Member(MemberDouble[str]):
    """`role` is what its invitation names (2.1.1 credentials carry no role); `hub_endpoints`
    are the hub's 2.1.1 endpoints by module."""

    VERSION: ClassVar[str] = VERSION
    MODULES: ClassVar[tuple[str, ...]] = MODULES
    ROLES: ClassVar[bool] = False

    hub_credentials: Credentials | None = None
    hub_details: dict[str, Any] = field(default_factory=dict)

    def _key(self, endpoint: dict[str, str]) -> str:
        return endpoint["identifier"]

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
        response, details = await self._handshake("POST", versions_url, token_a, VERSION)
        envelope = response.json()
        if envelope["status_code"] == 1000:
            self.hub_details = details
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
        return await self._request(method, url, body, params)
