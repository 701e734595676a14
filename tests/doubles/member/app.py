"""The double put together: `Member` (state, handshake and both roles' calls) and its FastAPI
app, with the routing check every functional request passes."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Literal

import httpx
from fastapi import APIRouter, Depends, FastAPI
from starlette.applications import Starlette

from ocpi.errors import InvalidParameters
from ocpi.headers import RoutingHeaders
from ocpi.server import TokenAuth, ocpi_app, routing_headers
from ocpi.v221 import Role
from tests.doubles.member.calls import CpoCalls, EmspCalls, Handshake
from tests.doubles.member.configuration import configuration_router, hubclientinfo_router
from tests.doubles.member.control import control_router
from tests.doubles.member.cpo_routes import cpo_routes
from tests.doubles.member.emsp_routes import emsp_routes
from tests.doubles.member.recording import RecordingMiddleware
from tests.doubles.member.records import MemberConfig
from tests.doubles.member.state import Principal


class Member(Handshake, CpoCalls, EmspCalls):
    """One double: its state (`MemberState`: what it stores and records, how it calls out),
    the credentials handshake, both roles' calls, and `member.app`, its ASGI application."""

    def __init__(self, config: MemberConfig, http: httpx.AsyncClient | None = None) -> None:
        super().__init__(config, http)
        self.app = build_app(self)


def build_app(member: Member) -> FastAPI:
    """The double's FastAPI app (Member.__init__ calls this; use `member.app`)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Only a real server runs this (ASGITransport does not): own an httpx client then.
        owned = None
        if member.http is None:
            owned = member.http = httpx.AsyncClient(timeout=10.0)
        try:
            yield
        finally:
            await member.close()
            if owned is not None:
                await owned.aclose()
                member.http = None

    app = ocpi_app(member.config.name, lifespan=lifespan)
    app.state.member = member
    config_auth: TokenAuth[Principal] = TokenAuth(member.principal)
    peer_auth: TokenAuth[Literal["peer"]] = TokenAuth(member.peer_principal)

    async def check_routing(
        routing: Annotated[RoutingHeaders, Depends(routing_headers)],
    ) -> RoutingHeaders:
        """Functional requests via a hub carry both pairs, and TO must be this party."""
        if not member.config.strict_routing:
            return routing
        if routing.to is None or routing.from_ is None:
            raise InvalidParameters(
                "functional-module requests from a hub must carry OCPI-to-country-code, "
                "OCPI-to-party-id, OCPI-from-country-code and OCPI-from-party-id"
            )
        if routing.to != member.party:
            raise InvalidParameters(
                f"this platform hosts {member.party}, but the request is addressed to {routing.to}"
            )
        return routing

    app.include_router(configuration_router(member, config_auth))
    functional = APIRouter(dependencies=[Depends(peer_auth), Depends(check_routing)])
    if member.role is Role.CPO:
        cpo_routes(member, functional)
    else:
        emsp_routes(member, functional)
    app.include_router(functional)
    app.include_router(hubclientinfo_router(member, peer_auth))
    app.include_router(control_router(member))
    app.add_middleware(RecordingMiddleware, member=member)
    return app


def create_member_app(config: MemberConfig, http: httpx.AsyncClient | None = None) -> FastAPI:
    """A fresh double's app; its state is `member_of(app)`."""
    return Member(config, http).app


def member_of(app: Starlette) -> Member:
    member: Member = app.state.member
    return member
