"""What a double is (its configuration) and what it keeps of its traffic: the requests it
received, the calls it made, the commands and their results, the peer it registered with."""

import asyncio
from dataclasses import dataclass, field
from typing import Any, Self

import httpx

from ocpi.headers import PartyRef, RoutingHeaders, token_candidates
from ocpi.v221 import (
    CommandResponse,
    CommandResult,
    CommandType,
    Credentials,
    CredentialsRole,
    Endpoint,
    OcpiModel,
    Role,
)


@dataclass(frozen=True)
class MemberConfig:
    """Who the double is and how it behaves.

    `base_url` is the public root; its path (if any) prefixes every route, so several doubles
    can share one host. `strict_routing` makes functional requests without OCPI-to/-from
    headers, or addressed to another party, fail with 2001 (a hub must always set them).
    """

    role: Role
    party: PartyRef
    name: str = ""
    base_url: str = "http://member.test"
    page_limit: int = 2
    command_timeout: int = 30
    command_result_delay: float = 0.05
    strict_routing: bool = True

    def __post_init__(self) -> None:
        if self.role not in (Role.CPO, Role.EMSP):
            raise ValueError(f"the double plays CPO or EMSP, not {self.role}")
        if self.page_limit < 1:
            raise ValueError("page_limit must be at least 1")
        if not self.name:
            object.__setattr__(self, "name", f"Test double {self.role.value} {self.party}")


@dataclass
class RecordedRequest:
    """One request that reached the double, as it arrived (header names lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    body: Any
    raw_body: bytes = b""
    http_status: int | None = None
    """The HTTP status of the double's answer, filled in when the answer starts."""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def routing(self) -> RoutingHeaders:
        return RoutingHeaders.parse(httpx.Headers(self.headers))

    @property
    def token(self) -> str | None:
        """The credentials token of the Authorization header (Base64-decoded), if any."""
        try:
            return token_candidates(self.header("authorization"))[0]
        except ValueError:
            return None


@dataclass
class SentRequest:
    """One call the double made, with the outcome."""

    method: str
    url: str
    to: PartyRef | None
    body: Any
    http_status: int | None = None
    status_code: int | None = None
    error: str | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    request_id: str | None = None
    correlation_id: str | None = None


@dataclass
class Peer:
    """The platform the double is connected to (the hub): how to call it, who it says it is."""

    token: str
    """The token the double sends (token C, or the token the hub sent in its own POST)."""
    versions_url: str
    endpoints: list[Endpoint]
    roles: list[CredentialsRole]
    credentials_url: str | None

    @classmethod
    def of(
        cls, theirs: Credentials, endpoints: list[Endpoint], credentials_url: str | None
    ) -> Self:
        """The peer that sent `theirs` and published `endpoints`."""
        return cls(
            token=theirs.token,
            versions_url=theirs.url,
            endpoints=endpoints,
            roles=list(theirs.roles),
            credentials_url=credentials_url,
        )


@dataclass
class SentCommand:
    """A command the eMSP double sent, awaiting its CommandResult at `response_url`."""

    uid: str
    command: CommandType
    body: OcpiModel
    to: PartyRef
    response: CommandResponse | None = None
    result_arrived: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class ReceivedCommand:
    """A command the CPO double received."""

    command: CommandType
    body: OcpiModel
    requester: PartyRef | None
    response: CommandResponse | None = None


@dataclass
class CallbackOutcome:
    """A CommandResult the CPO double POSTed to a response_url, and how that went."""

    url: str
    result: CommandResult
    to: PartyRef | None
    status_code: int | None
    error: str | None = None
