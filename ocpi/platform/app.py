"""`member_app()`: the FastAPI application every member platform starts from.

It wires what a CPO and an eMSP share: the lifespan that starts and stops the service, the
versions/details and credentials routers, the two token checks (any caller, including a token
A during a handshake; the registered peer only) and the middleware that answers functional
requests with the routing headers reversed; for a platform speaking another version than
2.2.1, the `VersionEdge` in front of it all. The service adds its own module routers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal, Protocol
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI
from starlette.requests import Request

from ocpi.errors import InvalidParameters
from ocpi.headers import PartyRef, RoutingHeaders
from ocpi.platform.clientinfo import ClientInfoReceiver, hubclientinfo_router
from ocpi.platform.edge import VersionEdge
from ocpi.platform.errors import OperationError, operation_error_response
from ocpi.platform.middleware import RoutingAnswerMiddleware
from ocpi.platform.registration import Principal, Registration
from ocpi.platform.routers import ModuleInterface, credentials_router, versions_router
from ocpi.server import TokenAuth, ocpi_app
from ocpi.server.app import OcpiApp
from ocpi.server.dependencies import parse_routing_headers
from ocpi.server.plain import plain_routes


class MemberService(Protocol):
    registration: Registration

    async def start(self, *, register_now: bool = True) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class MemberApp:
    app: OcpiApp
    any_caller: TokenAuth[Principal]
    peer_only: TokenAuth[Literal["peer"]]
    prefix: str
    """The path of the public URL (routes live below it)."""


def member_app(
    service: MemberService,
    *,
    title: str,
    party: PartyRef,
    public_url: str,
    interfaces: Sequence[ModuleInterface],
    credentials_path: str,
    functional_base: str,
) -> MemberApp:
    """The shared part of a member platform's app; the service's lifespan registers it."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await service.start(register_now=False)
        try:
            yield
        finally:
            await service.stop()

    app = ocpi_app(title, lifespan=lifespan)
    # 2.1.1 sends the token as it is (transport_and_format "Request format"): taken too.
    raw = service.registration.raw_tokens or service.registration.version.number == "2.1.1"
    any_caller: TokenAuth[Principal] = TokenAuth(service.registration.principal, accept_raw=raw)
    peer_only: TokenAuth[Literal["peer"]] = TokenAuth(
        service.registration.peer_principal, accept_raw=raw
    )
    prefix = urlsplit(public_url).path.rstrip("/")
    version = service.registration.version
    app.include_router(versions_router(public_url, interfaces, any_caller, version=version))
    app.include_router(
        credentials_router(prefix + credentials_path, service.registration, any_caller)
    )
    # Front middleware (OcpiApp): ahead of the app's stack and of the routes served first.
    app.add_front_middleware(
        RoutingAnswerMiddleware, party=party, prefixes=[prefix + functional_base + "/"]
    )
    if version.translates:
        # Outermost: everything inside sees the 2.2.1 paths and objects it was written for.
        origin = public_url.rstrip("/").removesuffix(prefix)
        registration = service.registration
        app.add_front_middleware(
            VersionEdge,
            adapter=version,
            prefix=prefix,
            interfaces=interfaces,
            origin=origin,
            peer=lambda: registration.peer,
            auth=any_caller,
        )
    return MemberApp(app, any_caller, peer_only, prefix)


class MemberIdentity(Protocol):
    """The settings `build_member_app` reads (MemberSettings has them)."""

    @property
    def name(self) -> str: ...

    @property
    def party(self) -> PartyRef: ...

    @property
    def public_url(self) -> str: ...


def build_member_app(
    service: MemberService,
    settings: MemberIdentity,
    *,
    interfaces: Sequence[ModuleInterface],
    credentials_path: str,
    functional_base: str,
    functional: Callable[[TokenAuth[Literal["peer"]]], APIRouter],
    client_info: ClientInfoReceiver,
    operations: APIRouter,
) -> FastAPI:
    """A whole member platform: `member_app` plus the service's functional modules (behind
    the peer's token), the HubClientInfo receiver, and its own operations API (the CPO's
    control API, the eMSP's app API) with its error handler."""
    built = member_app(
        service,
        title=f"{settings.name} ({settings.party})",
        party=settings.party,
        public_url=settings.public_url,
        interfaces=interfaces,
        credentials_path=credentials_path,
        functional_base=functional_base,
    )
    app = built.app
    modules = functional(built.peer_only)
    app.include_router(modules)
    app.include_router(hubclientinfo_router(client_info, settings.public_url, built.peer_only))
    app.include_router(operations, prefix=built.prefix)
    app.add_exception_handler(OperationError, operation_error_response)
    # The plain routes (ocpi/server/plain.py: what a member receives, what is done to a
    # CPO's EVSEs) are nearly all the traffic of a busy platform: served ahead of FastAPI's
    # stack (issue 13; docs/architecture.md "The members' hot path").
    app.serve_first(plain_routes(modules.routes) + plain_routes(operations.routes, built.prefix))
    return app


def addressed_to(party: PartyRef) -> Callable[[Request], Awaitable[RoutingHeaders]]:
    """A dependency of functional routes: a hub sets OCPI-to to the receiving party, so a
    message addressed to another party is not this platform's (2001)."""

    async def addressed_here(request: Request) -> RoutingHeaders:
        routing = parse_routing_headers(request)
        if routing.to is not None and routing.to != party:
            raise InvalidParameters(
                f"this platform hosts {party}, but the request is addressed to {routing.to}"
            )
        return routing

    return addressed_here
