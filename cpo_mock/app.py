"""`create_app(settings)`: the mock CPO as an ASGI application. Nothing happens at import time."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from cpo_mock.api.control import control_router
from cpo_mock.api.ocpi import (
    CREDENTIALS_PATH,
    FUNCTIONAL_BASE,
    INTERFACES,
    functional_router,
)
from cpo_mock.service import Cpo
from cpo_mock.settings import CpoSettings
from ocpi.platform import OperationError, hubclientinfo_router, operation_error_response
from ocpi.platform.app import member_app


def create_app(settings: CpoSettings, http: httpx.AsyncClient | None = None) -> FastAPI:
    """Build a CPO. `http` replaces the network (tests pass an ASGI-routing client).

    The Cpo object is at `app.state.cpo`; it loads its state and registers with the hub when
    the app starts (lifespan), or when a test calls `await app.state.cpo.start()`.
    """
    cpo = Cpo(settings, http)
    built = member_app(
        cpo,
        title=f"{settings.name} ({settings.country_code}/{settings.party_id})",
        party=settings.party,
        public_url=settings.public_url,
        interfaces=INTERFACES,
        credentials_path=CREDENTIALS_PATH,
        functional_base=FUNCTIONAL_BASE,
    )
    app = built.app
    app.state.cpo = cpo
    app.include_router(functional_router(cpo, built.peer_only))
    app.include_router(hubclientinfo_router(cpo.clients, settings.public_url, built.peer_only))
    app.include_router(control_router(cpo), prefix=built.prefix)
    app.add_exception_handler(OperationError, operation_error_response)
    return app
