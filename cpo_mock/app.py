"""`create_app(settings)`: the mock CPO as an ASGI application. Nothing happens at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI

from cpo_mock.api.control import control_error, control_router
from cpo_mock.api.ocpi import (
    CREDENTIALS_PATH,
    FUNCTIONAL_BASE,
    INTERFACES,
    functional_router,
    hubclientinfo_router,
)
from cpo_mock.service import ControlError, Cpo
from cpo_mock.settings import CpoSettings
from ocpi.platform import (
    Principal,
    RoutingAnswerMiddleware,
    credentials_router,
    versions_router,
)
from ocpi.server import TokenAuth, ocpi_app


def create_app(settings: CpoSettings, http: httpx.AsyncClient | None = None) -> FastAPI:
    """Build a CPO. `http` replaces the network (tests pass an ASGI-routing client).

    The Cpo object is at `app.state.cpo`; it loads its state and registers with the hub when
    the app starts (lifespan), or when a test calls `await app.state.cpo.start()`.
    """
    cpo = Cpo(settings, http)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await cpo.start(register_now=False)
        try:
            yield
        finally:
            await cpo.stop()

    app = ocpi_app(
        f"{settings.name} ({settings.country_code}/{settings.party_id})", lifespan=lifespan
    )
    app.state.cpo = cpo
    any_caller: TokenAuth[Principal] = TokenAuth(cpo.registration.principal)
    peer_only: TokenAuth[Literal["peer"]] = TokenAuth(cpo.registration.peer_principal)
    prefix = urlsplit(settings.public_url).path.rstrip("/")
    app.include_router(versions_router(settings.public_url, INTERFACES, any_caller))
    app.include_router(credentials_router(prefix + CREDENTIALS_PATH, cpo.registration, any_caller))
    app.include_router(functional_router(cpo, peer_only))
    app.include_router(hubclientinfo_router(cpo, peer_only))
    app.include_router(control_router(cpo), prefix=prefix)
    app.add_exception_handler(ControlError, control_error)
    app.add_middleware(
        RoutingAnswerMiddleware, party=settings.party, prefixes=[prefix + FUNCTIONAL_BASE + "/"]
    )
    return app
