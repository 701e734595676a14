"""`create_app(settings)`: the mock eMSP as an ASGI application. Nothing happens at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI

from emsp_mock.api.app import app_error, app_router
from emsp_mock.api.ocpi import (
    CREDENTIALS_PATH,
    INTERFACES,
    functional_router,
    hubclientinfo_router,
)
from emsp_mock.service import FUNCTIONAL_BASE, AppError, Emsp
from emsp_mock.settings import EmspSettings
from ocpi.platform import (
    Principal,
    RoutingAnswerMiddleware,
    credentials_router,
    versions_router,
)
from ocpi.server import TokenAuth, ocpi_app


def create_app(settings: EmspSettings, http: httpx.AsyncClient | None = None) -> FastAPI:
    """Build an eMSP. `http` replaces the network (tests pass an ASGI-routing client).

    The Emsp object is at `app.state.emsp`; it loads its state and registers with the hub (or
    re-syncs) when the app starts (lifespan), or when a test calls `app.state.emsp.start()`.
    """
    emsp = Emsp(settings, http)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await emsp.start(register_now=False)
        try:
            yield
        finally:
            await emsp.stop()

    app = ocpi_app(
        f"{settings.name} ({settings.country_code}/{settings.party_id})", lifespan=lifespan
    )
    app.state.emsp = emsp
    any_caller: TokenAuth[Principal] = TokenAuth(emsp.registration.principal)
    peer_only: TokenAuth[Literal["peer"]] = TokenAuth(emsp.registration.peer_principal)
    prefix = urlsplit(settings.public_url).path.rstrip("/")
    app.include_router(versions_router(settings.public_url, INTERFACES, any_caller))
    app.include_router(credentials_router(prefix + CREDENTIALS_PATH, emsp.registration, any_caller))
    app.include_router(functional_router(emsp, peer_only))
    app.include_router(hubclientinfo_router(emsp, peer_only))
    app.include_router(app_router(emsp), prefix=prefix)
    app.add_exception_handler(AppError, app_error)
    app.add_middleware(
        RoutingAnswerMiddleware, party=settings.party, prefixes=[prefix + FUNCTIONAL_BASE + "/"]
    )
    return app
