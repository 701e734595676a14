"""An in-process "network": one httpx transport that delivers each request to the ASGI app
registered for its host, so a hub and several members talk real HTTP semantics in one event
loop (house style: federation tests wire everything through ASGITransport)."""

from __future__ import annotations

import asyncio

import httpx
from starlette.types import ASGIApp


class Network(httpx.AsyncBaseTransport):
    """`network.add("hub.test", app)`; then http://hub.test/... reaches that app.

    A host marked down answers like a closed port (ConnectError); a host given a delay
    answers that much later (for timeout tests).
    """

    def __init__(self) -> None:
        self._apps: dict[str, httpx.ASGITransport] = {}
        self.down: set[str] = set()
        self.delay: dict[str, float] = {}
        self.delay_next: dict[str, list[float]] = {}
        """Per host, delays for the next requests, one used up per request."""
        self.garble_next: dict[str, int] = {}
        """Per host, how many of the next answers arrive as malformed HTTP: the app handles
        the request, then the caller gets RemoteProtocolError instead of its answer."""

    def add(self, host: str, app: ASGIApp) -> None:
        self._apps[host] = httpx.ASGITransport(app=app, raise_app_exceptions=False)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        transport = self._apps.get(host)
        if transport is None or host in self.down:
            raise httpx.ConnectError(f"connection refused by {host}", request=request)
        if self.delay_next.get(host):
            await asyncio.sleep(self.delay_next[host].pop(0))
        elif host in self.delay:
            await asyncio.sleep(self.delay[host])
        response = await transport.handle_async_request(request)
        if self.garble_next.get(host):
            self.garble_next[host] -= 1
            await response.aread()
            raise httpx.RemoteProtocolError("illegal header line in the answer", request=request)
        return response

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self, timeout=10)
