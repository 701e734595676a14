"""`member_app()`: the FastAPI application every member platform starts from.

It wires what a CPO and an eMSP share: the lifespan that starts and stops the service, the
versions/details and credentials routers, the two token checks (any caller, including a token
A during a handshake; the registered peer only) and the middleware that answers functional
requests with the routing headers reversed. The service adds its own module routers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal, Protocol
from urllib.parse import urlsplit

from fastapi import FastAPI

from ocpi.headers import PartyRef
from ocpi.platform.middleware import RoutingAnswerMiddleware
from ocpi.platform.registration import Principal, Registration
from ocpi.platform.routers import ModuleInterface, credentials_router, versions_router
from ocpi.server import TokenAuth, ocpi_app


class MemberService(Protocol):
    registration: Registration

    async def start(self, *, register_now: bool = True) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class MemberApp:
    app: FastAPI
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
    any_caller: TokenAuth[Principal] = TokenAuth(service.registration.principal)
    peer_only: TokenAuth[Literal["peer"]] = TokenAuth(service.registration.peer_principal)
    prefix = urlsplit(public_url).path.rstrip("/")
    app.include_router(versions_router(public_url, interfaces, any_caller))
    app.include_router(
        credentials_router(prefix + credentials_path, service.registration, any_caller)
    )
    app.add_middleware(
        RoutingAnswerMiddleware, party=party, prefixes=[prefix + functional_base + "/"]
    )
    return MemberApp(app, any_caller, peer_only, prefix)
