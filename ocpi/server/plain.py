"""Plain Starlette routes for a platform's hot receiving paths.

FastAPI's dependency injection costs more than the work of a Location PUT itself: profiling
the mock eMSP receiving a sync (issue 13) showed `solve_dependencies` at about a quarter of
the app's CPU per request, for a token check, an OCPI-to check, a body already parsed by
`JsonBodyGuard`, and string path parameters. `plain_route` registers a handler of the form
`async def handler(<path params as str>, body) -> Response` as a Starlette `Route` whose
guards (the same callables FastAPI would have resolved as dependencies) run explicitly, in
order, before it. Errors they raise reach the app's exception handlers like any other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ocpi.server.dependencies import guarded_body

Guard = Callable[[Request], Awaitable[Any]]
Handler = Callable[..., Awaitable[Response]]


def plain_route(
    router: APIRouter, method: str, path: str, guards: Sequence[Guard]
) -> Callable[[Handler], Handler]:
    """Decorator: serve `handler` at `method path` on `router` without dependency
    injection. The handler gets each path parameter by name and `body` (the JSON body as
    `JsonBodyGuard` parsed it, None when empty). The router's own `dependencies` do not
    apply to such a route: pass them as `guards`."""

    def register(handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            for guard in guards:
                await guard(request)
            return await handler(**request.path_params, body=await guarded_body(request))

        endpoint.__name__ = handler.__name__
        router.routes.append(Route(path, endpoint, methods=[method]))
        return handler

    return register
