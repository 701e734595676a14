"""HostRouter: an httpx transport that lets a hub and several doubles call each other inside
one event loop, each request handed to the in-process app of its host."""

from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx
from starlette.types import ASGIApp


class HostRouter(httpx.AsyncBaseTransport):
    """An httpx transport that hands each request to the in-process app of its host.

    `HostRouter({"http://hub.test": hub_app, "http://cpo.test": member.app})` lets a hub and
    several doubles call each other inside one event loop; an unknown host is a ConnectError,
    as an unreachable platform would be.
    """

    def __init__(self, apps: Mapping[str, ASGIApp] | None = None) -> None:
        self._transports: dict[str, httpx.ASGITransport] = {}
        for url, app in (apps or {}).items():
            self.add(url, app)

    def add(self, url: str, app: ASGIApp) -> None:
        """Route requests for the host (and port) of `url` to `app`."""
        netloc = urlsplit(url).netloc or url
        self._transports[netloc.lower()] = httpx.ASGITransport(app=app, raise_app_exceptions=False)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        netloc = request.url.netloc.decode("ascii").lower()
        transport = self._transports.get(netloc)
        if transport is None:
            raise httpx.ConnectError(f"no in-process app serves {netloc}", request=request)
        return await transport.handle_async_request(request)
