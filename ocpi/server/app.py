"""`ocpi_app()`: a FastAPI application preconfigured with the OCPI behaviours of this package."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ocpi.errors import OcpiError
from ocpi.server.body_guard import JsonBodyGuard
from ocpi.server.errors import error_response, install_error_handlers
from ocpi.server.middleware import OcpiHeadersMiddleware
from ocpi.server.responses import OcpiResponse
from ocpi.wire_json import MAX_BODY_BYTES


class OcpiApp(FastAPI):
    """A FastAPI app that may serve a few hot routes ahead of its own stack (`serve_first`).

    Such a route gets what every OCPI route gets from `ocpi_app` (the request ids echoed, a
    crash answered with a 3000 envelope, the body read strictly, an `OcpiError` answered with
    its envelope) from the same middleware and handler, but none of FastAPI's and
    Starlette's own layers (server-error, telemetry, body-limit and exception middleware, the
    exit stack, the router, the endpoint wrappers). Profiling the hub per routed GET (issue
    13) put those layers at about 7 % of its CPU; they add nothing on a plain route that
    raises only `OcpiError`. A request that such a route does not match in full (another
    path, or a method it does not take) goes through the whole app as before.
    """

    max_body_bytes: int = MAX_BODY_BYTES
    defer_body_errors: tuple[str, ...] = ()
    _first: ASGIApp | None = None
    _first_routes: Sequence[Route] = ()

    def serve_first(self, routes: Sequence[Route]) -> None:
        """Serve `routes` (plain Starlette routes whose endpoints raise only `OcpiError`)
        ahead of the app's stack. They should be in the app's router too, which answers a
        method they do not take (405)."""
        self._first_routes = list(routes)
        guard = JsonBodyGuard(
            self._serve_route, max_bytes=self.max_body_bytes, defer=self.defer_body_errors
        )
        self._first = OcpiHeadersMiddleware(guard)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._first is not None and scope["type"] == "http":
            for route in self._first_routes:
                match, child = route.matches(scope)
                if match is Match.FULL:
                    scope["app"] = self
                    scope.update(child)
                    await self._first(scope, receive, send)
                    return
        await super().__call__(scope, receive, send)

    async def _serve_route(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = scope["endpoint"]
        try:
            response = await endpoint(Request(scope, receive))
        except OcpiError as exc:
            response = error_response(exc)
        await response(scope, receive, send)


def ocpi_app(
    title: str,
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
    defer_body_errors: tuple[str, ...] = (),
    **kwargs: Any,
) -> OcpiApp:
    """A FastAPI app with envelope error handling, strict body reading and request-id echo
    already installed.

    Services add their routers; nothing is configured at import time, so one process can run
    several apps (a hub and many members) side by side. Request bodies are read strictly
    (`JsonBodyGuard`); paths starting with one of `defer_body_errors` get the refusal in the
    scope instead of an answer, for their endpoint to raise and log.
    """
    app = OcpiApp(title=title, default_response_class=OcpiResponse, **kwargs)
    app.max_body_bytes, app.defer_body_errors = max_body_bytes, defer_body_errors
    install_error_handlers(app)
    app.add_middleware(JsonBodyGuard, max_bytes=max_body_bytes, defer=defer_body_errors)
    app.add_middleware(OcpiHeadersMiddleware)
    return app
