"""OcpiApp.serve_first: hot routes served ahead of FastAPI's stack keep every OCPI behaviour
an `ocpi_app` route has (the hub's routed messages go this way)."""

from __future__ import annotations

import json

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ocpi.errors import NotFound
from ocpi.server import ocpi_app
from ocpi.server.app import OcpiApp
from ocpi.server.body_guard import STATE_KEY

SEEN: list[str] = []


async def hot(request: Request) -> Response:
    thing = request.path_params["thing"]
    SEEN.append(request.scope["app"].title)
    if thing == "missing":
        raise NotFound("no such thing: missing")
    if thing == "crash":
        raise RuntimeError("a bug")
    outcome = request.scope["state"].get(STATE_KEY)
    refused = outcome if isinstance(outcome, Exception) else None
    if refused is not None:
        raise refused
    return Response(json.dumps({"thing": thing}).encode(), media_type="application/json")


def build() -> OcpiApp:
    app = ocpi_app("serving first", defer_body_errors=("/hot/",))
    routes = [Route("/hot/{thing}", hot, methods=["GET", "PUT"])]
    app.serve_first(routes)
    app.router.routes[0:0] = routes
    return app


@pytest.fixture
async def client() -> httpx.AsyncClient:
    SEEN.clear()
    transport = httpx.ASGITransport(app=build())
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_a_served_first_route_answers_and_echoes_the_request_ids(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/hot/a", headers={"X-Request-ID": "r1", "X-Correlation-ID": "c1"})
    assert answer.status_code == 200
    assert answer.json() == {"thing": "a"}
    assert answer.headers["x-request-id"] == "r1"
    assert answer.headers["x-correlation-id"] == "c1"
    assert SEEN == ["serving first"]


async def test_its_ocpi_error_is_the_envelope_with_ids(client: httpx.AsyncClient) -> None:
    answer = await client.get("/hot/missing", headers={"X-Request-ID": "r2"})
    assert answer.status_code == 404
    assert answer.json()["status_code"] == NotFound("").status_code
    assert answer.json()["status_message"] == "no such thing: missing"
    assert answer.headers["x-request-id"] == "r2"


async def test_a_crash_is_a_3000_envelope_without_a_stack_trace(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/hot/crash", headers={"X-Request-ID": "r3"})
    assert answer.status_code == 500
    assert answer.json()["status_code"] == 3000
    assert "a bug" not in answer.text and "Traceback" not in answer.text
    assert answer.headers["x-request-id"] == "r3"


async def test_its_body_is_read_strictly_and_a_refusal_reaches_the_route(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.put(
        "/hot/a", content=b'{"x": NaN}', headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["status_code"] == 2001
    assert SEEN == ["serving first"]  # deferred: the route raised it


async def test_a_method_it_does_not_take_goes_through_the_app(client: httpx.AsyncClient) -> None:
    answer = await client.delete("/hot/a")
    assert answer.status_code == 405
    assert answer.json()["status_code"] == 2000
    assert "x-request-id" in answer.headers
    assert SEEN == []


class Refused(Exception):
    """An error the app has a handler for (as a member's operations API has OperationError)."""


async def refused_answer(request: Request, exc: Exception) -> Response:
    return Response(b'{"error": "refused"}', status_code=409, media_type="application/json")


async def refusing(request: Request) -> Response:
    raise Refused


async def stacked(request: Request) -> Response:
    return Response(b"{}", media_type="application/json")


def tagging(app: ASGIApp, tag: bytes) -> ASGIApp:
    """Front middleware: names itself in a header of every answer."""

    async def tag_answers(scope: Scope, receive: Receive, send: Send) -> None:
        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-front", tag)]
            await send(message)

        await app(scope, receive, tagged)

    return tag_answers


def build_with_front() -> OcpiApp:
    app = ocpi_app("front")
    app.add_exception_handler(Refused, refused_answer)
    first = [Route("/hot/{thing}", hot, methods=["GET"])]
    more = [Route("/refusing", refusing, methods=["POST"])]
    app.serve_first(first)
    app.serve_first(more)  # adds to the first call's routes
    app.router.routes[0:0] = first + more
    app.router.routes.append(Route("/stacked", stacked, methods=["GET"]))
    app.add_front_middleware(tagging, tag=b"inner")
    app.add_front_middleware(tagging, tag=b"outer")  # added last: runs first
    return app


async def test_an_exception_the_app_has_a_handler_for_gets_that_handler() -> None:
    """A served-first route raising an error the app handles (a member's OperationError) is
    answered by that handler, as through the app's stack, not with a 3000."""
    transport = httpx.ASGITransport(app=build_with_front())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.post("/refusing", headers={"X-Request-ID": "r9"})
    assert answer.status_code == 409
    assert answer.json() == {"error": "refused"}
    assert answer.headers["x-request-id"] == "r9"


async def test_front_middleware_runs_ahead_of_served_first_routes_and_the_stack() -> None:
    SEEN.clear()
    app = build_with_front()
    # Served first: the app's own stack is never built for it.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        hot_answer = await client.get("/hot/a")
        assert app.middleware_stack is None
        stacked_answer = await client.get("/stacked")
        assert app.middleware_stack is not None
    assert SEEN == ["front"]
    for answer in (hot_answer, stacked_answer):
        assert answer.status_code == 200
        assert answer.headers.get_list("x-front") == ["inner", "outer"]
        assert "x-request-id" in answer.headers
