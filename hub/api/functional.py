"""Routes of the functional modules: plain Starlette routes straight into hub.relay.

No FastAPI dependency injection on this path: every routed message goes through it, and the
relay reads what it needs from the request itself.
"""

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hub import relay
from hub.service import Hub
from ocpi.v221.versions import InterfaceRole

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
ROUTED_PREFIXES = ("/ocpi/2.2.1/sender/", "/ocpi/2.2.1/receiver/", "/ocpi/2.2.1/pages/")


def functional_routes(hub: Hub) -> list[BaseRoute]:
    async def sender(request: Request) -> Response:
        return await relay.handle(hub, request, InterfaceRole.SENDER)

    async def receiver(request: Request) -> Response:
        return await relay.handle(hub, request, InterfaceRole.RECEIVER)

    async def page(request: Request) -> Response:
        return await relay.handle_page(hub, request)

    routes: list[BaseRoute] = []
    for name, endpoint in (("sender", sender), ("receiver", receiver)):
        base = f"/ocpi/2.2.1/{name}/{{module}}"
        routes.append(Route(base, endpoint, methods=METHODS))
        routes.append(Route(base + "/{rest:path}", endpoint, methods=METHODS))
    routes.append(Route("/ocpi/2.2.1/pages/{uid}", page, methods=["GET"]))
    return routes
