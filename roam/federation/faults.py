"""Faults a scenario or the dashboard injects into one platform's OCPI API."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send


class Faults:
    """Faults a scenario injects into one platform's OCPI API (docs/scenarios.md): every
    request under /ocpi/ waits `delay` seconds, and with `answer` set gets that answer
    (HTTP status, OCPI status, message) instead of reaching the platform."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.delay = 0.0
        self.answer: tuple[int, int, str] | None = None

    def clear(self) -> None:
        self.delay = 0.0
        self.answer = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith("/ocpi/"):
            await self.app(scope, receive, send)
            return
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        if self.answer is None:
            await self.app(scope, receive, send)
            return
        http_status, ocpi_status, message = self.answer
        body = {
            "status_code": ocpi_status,
            "status_message": message,
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        }
        await JSONResponse(body, status_code=http_status)(scope, receive, send)
