"""Plain Starlette routes for a platform's hot receiving paths.

FastAPI's dependency injection costs more than the work of a Location PUT itself: profiling
the mock eMSP receiving a sync (issue 13) showed `solve_dependencies` at about a quarter of
the app's CPU per request, for a token check, an OCPI-to check, a body already parsed by
`JsonBodyGuard`, and string path parameters. `plain_route` registers a handler of the form
`async def handler(<path params as str>, body) -> Response` as a Starlette `Route` whose
guards (the same callables FastAPI would have resolved as dependencies) run explicitly, in
order, before it. Errors they raise reach the app's exception handlers like any other.
Being plain, such a route can also be served ahead of the app's whole stack
(`OcpiApp.serve_first`; `plain_routes` lists a router's).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ocpi.server.dependencies import guarded_body

Guard = Callable[[Request], Awaitable[Any]]
Handler = Callable[..., Awaitable[Response]]
BodyReader = Callable[[Request], Awaitable[Any]]


class PlainRoute(Route):
    """A route registered by `plain_route`."""


def plain_route(
    router: APIRouter,
    method: str,
    path: str,
    guards: Sequence[Guard],
    *,
    body: BodyReader | None = guarded_body,
) -> Callable[[Handler], Handler]:
    """Decorator: serve `handler` at `method path` (below the router's prefix) on `router`
    without dependency injection. The handler gets each path parameter by name and, unless
    `body` is None, `body`: what `body(request)` gives, by default the JSON body as
    `JsonBodyGuard` parsed it (None when empty). The router's own `dependencies` do not apply
    to such a route: pass them as `guards`; they run before the body is read."""

    def register(handler: Handler) -> Handler:
        read = body

        async def endpoint(request: Request) -> Response:
            for guard in guards:
                await guard(request)
            if read is None:
                return await handler(**request.path_params)
            return await handler(**request.path_params, body=await read(request))

        endpoint.__name__ = handler.__name__
        router.routes.append(PlainRoute(router.prefix + path, endpoint, methods=[method]))
        return handler

    return register


def plain_routes(routes: Sequence[BaseRoute], prefix: str = "") -> list[Route]:
    """The plain routes among `routes` (a router's), at `prefix` + their path (the prefix the
    router is included with)."""
    return [
        PlainRoute(prefix + route.path, route.endpoint, methods=sorted(route.methods or ()))
        if prefix
        else route
        for route in routes
        if isinstance(route, PlainRoute)
    ]
