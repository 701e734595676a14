"""`create_app(settings)`: the hub as an ASGI application. Nothing happens at import time."""

from __future__ import annotations

import hmac

from fastapi import FastAPI

from hub.api.versions import versions_router
from hub.settings import HubSettings
from ocpi.server import TokenAuth, ocpi_app


def create_app(settings: HubSettings) -> FastAPI:
    """Build a hub. Each call is independent, so tests can run several side by side."""

    async def lookup(token: str) -> str | None:
        invite = settings.invite_token
        if invite is not None and hmac.compare_digest(token.encode(), invite.encode()):
            return "invite"
        return None

    auth: TokenAuth[str] = TokenAuth(lookup)
    app = ocpi_app(f"{settings.name} ({settings.country_code}/{settings.party_id})")
    app.include_router(versions_router(settings, auth))
    return app
