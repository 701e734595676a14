"""`create_app(settings)`: the mock eMSP as an ASGI application. Nothing happens at import time."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from emsp_mock.api.app import app_router
from emsp_mock.api.ocpi import CREDENTIALS_PATH, INTERFACES, functional_router
from emsp_mock.service import FUNCTIONAL_BASE, Emsp
from emsp_mock.settings import EmspSettings
from ocpi.platform import build_member_app


def create_app(settings: EmspSettings, http: httpx.AsyncClient | None = None) -> FastAPI:
    """Build an eMSP. `http` replaces the network (tests pass an ASGI-routing client).

    The Emsp object is at `app.state.emsp`; it loads its state and registers with the hub (or
    re-syncs) when the app starts (lifespan), or when a test calls `app.state.emsp.start()`.
    """
    emsp = Emsp(settings, http)
    app = build_member_app(
        emsp,
        settings,
        interfaces=INTERFACES,
        credentials_path=CREDENTIALS_PATH,
        functional_base=FUNCTIONAL_BASE,
        functional=lambda peer_only: functional_router(emsp, peer_only),
        client_info=emsp.receivers.client_info,
        operations=app_router(emsp),
    )
    app.state.emsp = emsp
    return app
