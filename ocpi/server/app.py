"""`ocpi_app()`: a FastAPI application preconfigured with the OCPI behaviours of this package."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ocpi.server.body_guard import JsonBodyGuard
from ocpi.server.errors import install_error_handlers
from ocpi.server.middleware import OcpiHeadersMiddleware
from ocpi.server.responses import OcpiResponse
from ocpi.wire_json import MAX_BODY_BYTES


class OcpiApp(FastAPI):
    """A FastAPI app that may serve a few hot routes ahead of its own stack (`serve_first`).

    Such a route gets what every OCPI route gets from `ocpi_app` (the request ids echoed, a
    crash answered with a 3000 envelope, the body read strictly, an exception answered by the
    app's handler for it: an `OcpiError` with its envelope) from the same middleware and
    handlers, but none of FastAPI's and Starlette's own layers (server-error, telemetry,
    body-limit and exception middleware, the exit stack, the router, the endpoint wrappers).
    Profiling the hub per routed GET (issue 13) put those layers at about 7 % of its CPU, and
    a mock eMSP per received EVSE PATCH at about a quarter; they add nothing on a plain route.
    A request that such a route does not match in full (another path, or a method it does not
    take) goes through the whole app as before.

    Front middleware (`add_front_middleware`) runs ahead of both: what must see every request
    before anything matches its path (a member's `VersionEdge`, which rewrites the paths of
    another OCPI version to the 2.2.1 core's) or must act on the answers of both (the
    routing headers of a member's answers).
    """

    max_body_bytes: int = MAX_BODY_BYTES
    defer_body_errors: tuple[str, ...] = ()
    _first: ASGIApp | None = None
    _first_routes: Sequence[Route] = ()
    _front: Sequence[tuple[Callable[..., ASGIApp], dict[str, Any]]] = ()
    _entry: ASGIApp | None = None

    def serve_first(self, routes: Sequence[Route]) -> None:
        """Serve `routes` (plain Starlette routes whose endpoints raise only exceptions the
        app has handlers for) ahead of the app's stack; a second call adds to the first. They
        should be in the app's router too, which answers a method they do not take (405)."""
        self._first_routes = [*self._first_routes, *routes]
        guard = JsonBodyGuard(
            self._serve_route, max_bytes=self.max_body_bytes, defer=self.defer_body_errors
        )
        self._first = OcpiHeadersMiddleware(guard)
        self._entry = None

    def add_front_middleware(self, middleware: Callable[..., ASGIApp], **options: Any) -> None:
        """ASGI middleware ahead of everything, served-first routes and the app's stack alike
        (HTTP requests only: the lifespan goes to the app as it is). As with
        `add_middleware`, the one added last runs first."""
        self._front = [(middleware, options), *self._front]
        self._entry = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (self._first is not None or self._front):
            if self._entry is None:
                entry: ASGIApp = self._dispatch
                for middleware, options in reversed(self._front):
                    entry = middleware(entry, **options)
                self._entry = entry
            await self._entry(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._first is not None:
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
        request = Request(scope, receive)
        try:
            response = await endpoint(request)
        except Exception as exc:
            handler = self._handler_for(exc)
            if handler is None:
                raise
            answer = handler(request, exc)
            response = await answer if inspect.isawaitable(answer) else answer
        await response(scope, receive, send)

    def _handler_for(self, exc: Exception) -> Callable[[Request, Exception], Any] | None:
        """The app's exception handler for `exc`, looked up by class as Starlette's exception
        middleware does (None: the error goes on to OcpiHeadersMiddleware, a 3000). A handler
        for `Exception` itself is left out: in the app's stack it is Starlette's server-error
        middleware that would run it, outside OcpiHeadersMiddleware, which answers first."""
        for cls in type(exc).__mro__[:-3]:  # not Exception, BaseException, object
            handler = self.exception_handlers.get(cls)
            if handler is not None:
                return handler
        return None


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
