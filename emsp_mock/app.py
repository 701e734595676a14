"""`create_app(settings)`: the mock eMSP as an ASGI application. Nothing happens at import time."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from emsp_mock.api.app import app_router
from emsp_mock.api.ocpi import CREDENTIALS_PATH, INTERFACES, functional_router
from emsp_mock.service import FUNCTIONAL_BASE, Emsp
from emsp_mock.settings import EmspSettings
from ocpi.platform import OperationError, hubclientinfo_router, operation_error_response
from ocpi.platform.app import member_app


def create_app(settings: EmspSettings, http: httpx.AsyncClient | None = None) -> FastAPI:
    """Build an eMSP. `http` replaces the network (tests pass an ASGI-routing client).

    The Emsp object is at `app.state.emsp`; it loads its state and registers with the hub (or
    re-syncs) when the app starts (lifespan), or when a test calls `app.state.emsp.start()`.
    """
    emsp = Emsp(settings, http)
    built = member_app(
        emsp,
        title=f"{settings.name} ({settings.country_code}/{settings.party_id})",
        party=settings.party,
        public_url=settings.public_url,
        interfaces=INTERFACES,
        credentials_path=CREDENTIALS_PATH,
        functional_base=FUNCTIONAL_BASE,
    )
    app = built.app
    app.state.emsp = emsp
    app.include_router(functional_router(emsp, built.peer_only))
    app.include_router(
        hubclientinfo_router(emsp.receivers.client_info, settings.public_url, built.peer_only)
    )
    app.include_router(app_router(emsp), prefix=built.prefix)
    app.add_exception_handler(OperationError, operation_error_response)
    return app
