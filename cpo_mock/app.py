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
from ocpi.platform import build_member_app


def create_app(settings: CpoSettings, http: httpx.AsyncClient | None = None) -> FastAPI:
    """Build a CPO. `http` replaces the network (tests pass an ASGI-routing client).

    The Cpo object is at `app.state.cpo`; it loads its state and registers with the hub when
    the app starts (lifespan), or when a test calls `await app.state.cpo.start()`.
    """
    cpo = Cpo(settings, http)
    app = build_member_app(
        cpo,
        settings,
        interfaces=INTERFACES,
        credentials_path=CREDENTIALS_PATH,
        functional_base=FUNCTIONAL_BASE,
        functional=lambda peer_only: functional_router(cpo, peer_only),
        client_info=cpo.clients,
        operations=control_router(cpo),
    )
    app.state.cpo = cpo
    return app
