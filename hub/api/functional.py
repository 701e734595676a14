"""Routes of the functional modules: plain Starlette routes straight into hub.relay.

No FastAPI dependency injection on this path: every routed message goes through it, and the
relay reads what it needs from the request itself.
"""

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub import relay
from hub.service import Hub
from hub.translation import PIVOT_FIRST, V211, V211_MODULES
from ocpi.v221.versions import InterfaceRole

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
ROUTED_PREFIXES = tuple(
    f"/ocpi/{version}/{part}/"
    for version in PIVOT_FIRST
    for part in ("sender", "receiver", "pages")
    if version != V211.version
) + tuple(f"/ocpi/{V211.version}/{part}" for part in ("pages/", *V211_MODULES))


def functional_routes(hub: Hub) -> list[Route]:
    """The routed URLs of every version the hub speaks (2.2.1's first: nearly all traffic)."""
    routes: list[Route] = []
    for version in PIVOT_FIRST:
        if version == V211.version:
            routes += _v211_routes(hub)
        else:
            routes += _version_routes(hub, version)
    return routes


def _v211_routes(hub: Hub) -> list[Route]:
    """2.1.1 has one URL per module, /ocpi/2.1.1/{module}: the caller's role tells which
    interface it calls (hub/translation.py `v211_hub_interface`). One route per module, so
    that /ocpi/2.1.1/credentials stays the credentials endpoint's."""
    routes: list[Route] = []
    for module in V211_MODULES:

        async def endpoint(request: Request, module: str = module.value) -> Response:
            request.scope["path_params"]["module"] = module
            return await relay.handle(hub, request, None, V211.version)

        base = f"/ocpi/{V211.version}/{module.value}"
        routes.append(Route(base, endpoint, methods=METHODS))
        routes.append(Route(base + "/{rest:path}", endpoint, methods=METHODS))

    async def page(request: Request) -> Response:
        return await relay.handle_page(hub, request, V211.version)

    routes.append(Route(f"/ocpi/{V211.version}/pages/{{uid}}", page, methods=["GET"]))
    return routes


def _version_routes(hub: Hub, version: str) -> list[Route]:
    async def sender(request: Request) -> Response:
        return await relay.handle(hub, request, InterfaceRole.SENDER, version)

    async def receiver(request: Request) -> Response:
        return await relay.handle(hub, request, InterfaceRole.RECEIVER, version)

    async def page(request: Request) -> Response:
        return await relay.handle_page(hub, request, version)

    routes: list[Route] = []
    for name, endpoint in (("sender", sender), ("receiver", receiver)):
        base = f"/ocpi/{version}/{name}/{{module}}"
        routes.append(Route(base, endpoint, methods=METHODS))
        routes.append(Route(base + "/{rest:path}", endpoint, methods=METHODS))
    routes.append(Route(f"/ocpi/{version}/pages/{{uid}}", page, methods=["GET"]))
    return routes
