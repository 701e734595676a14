"""`create_app(settings)`: the hub as an ASGI application. Nothing happens at import time."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from hub.api.admin import admin_router
from hub.api.credentials import credentials_router
from hub.api.functional import ROUTED_PREFIXES, functional_routes
from hub.api.hubclientinfo import hubclientinfo_router
from hub.api.logging import ConfigurationLogMiddleware
from hub.api.versions import versions_router
from hub.clientinfo import revive, still_alive_round
from hub.cluster import Cluster
from hub.deliveries import run_deliveries
from hub.relay import ocpi_base
from hub.service import Hub, Principal
from hub.settings import HubSettings
from hub.translation import V211
from ocpi.server import TokenAuth, ocpi_app
from ocpi.server.app import OcpiApp


def create_app(settings: HubSettings, http: httpx.AsyncClient | None = None) -> OcpiApp:
    """Build a hub. `http` replaces the network (tests pass an ASGI-routing client).

    The Hub object is at `app.state.hub`; its state loads from the database when the app
    starts (lifespan) and is flushed when it stops.
    """
    hub = Hub(settings, http)
    cluster = Cluster(hub)
    hub.every(
        "hub-still-alive",
        lambda current: current.still_alive_interval,
        cluster.leader_only(still_alive_round),
    )
    hub.worker("hub-cluster", cluster.run)
    hub.worker("hub-deliveries", lambda running: run_deliveries(running, cluster))
    hub.revive = lambda platform: revive(hub, platform)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await hub.start()
        # Objects alive after start-up live for the process: keep them out of full GC passes
        # (measured: full collections went from ~70 ms to ~2 ms under load; perf finding 4).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await hub.stop()

    # OCPI 2.1.1 sends the token as it is (no Base64): taken on the 2.1.1 paths, and on the
    # versions list, which a 2.1.1 member reads before it has said its version.
    auth: TokenAuth[Principal] = TokenAuth(
        hub.authenticate,
        accept_raw=settings.accept_raw_tokens,
        raw_under=(ocpi_base(V211.version), "/ocpi/versions"),
    )
    app = ocpi_app(
        f"{settings.name} ({settings.country_code}/{settings.party_id})",
        lifespan=lifespan,
        # Routed messages raise the refusal themselves, so that it is logged with the sender.
        defer_body_errors=ROUTED_PREFIXES,
    )
    app.state.hub = hub
    app.state.cluster = cluster
    app.include_router(versions_router(hub, auth))
    app.include_router(credentials_router(hub, auth))
    app.include_router(hubclientinfo_router(hub, auth))
    app.include_router(admin_router(hub))
    # Routed messages are nearly all the traffic: served ahead of FastAPI's stack, and
    # matched first in the router too (which answers the methods they do not take).
    routed = functional_routes(hub)
    app.serve_first(routed)
    app.router.routes[0:0] = routed
    # Reads the request ids OcpiHeadersMiddleware put in the scope once the answer is out.
    app.add_middleware(ConfigurationLogMiddleware, hub=hub)
    return app
