"""Message-log entries for everything that is not a routed message.

Routed messages are logged by hub.relay with their hops. This ASGI middleware covers the rest
— versions, credentials, hubclientinfo and unknown URLs — so that every refused or malformed
request (a 401, a 405, a 2001) leaves a line in the log too. That traffic is rare, so the
answer body is buffered to read its OCPI status.
"""

from __future__ import annotations

import json
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.api.functional import ROUTED_PREFIXES
from hub.service import Hub
from hub.translation import VERSIONS

_MODULES = {"versions": "versions", "credentials": "credentials", "hubclientinfo": "hubclientinfo"}
_DETAILS = {f"/ocpi/{version}" for version in VERSIONS}


def _module(path: str) -> str:
    last = path.rstrip("/").rsplit("/", 1)[-1]
    if path.rstrip("/") in _DETAILS:
        return "versions"
    return _MODULES.get(last, "")


class ConfigurationLogMiddleware:
    def __init__(self, app: ASGIApp, hub: Hub) -> None:
        self.app = app
        self.hub = hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or path.startswith((*ROUTED_PREFIXES, "/admin")):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        body = bytearray()

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and len(body) < 65536:
                body.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            ocpi_status, note = None, ""
            try:
                parsed = json.loads(bytes(body))
                ocpi_status = parsed.get("status_code")
                if ocpi_status != 1000:
                    note = str(parsed.get("status_message") or "")
            except (ValueError, AttributeError):
                pass
            ids = scope.get("state", {}).get("ocpi_ids", ("", ""))
            self.hub.log_message(
                hop="inbound",
                method=scope.get("method", ""),
                path=path,
                module=_module(path),
                request_id=ids[0],
                correlation_id=ids[1],
                ocpi_status=ocpi_status if isinstance(ocpi_status, int) else None,
                http_status=status or None,
                latency_ms=(time.perf_counter() - started) * 1000,
                note=note,
            )
