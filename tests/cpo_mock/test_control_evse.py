"""What the control API does to an EVSE (plug, unplug, swipe, fault, repair, remove): plain
routes served ahead of the app's stack, with the token check and the body refusals they had
as FastAPI routes (`Body()`: missing, not sent as JSON, not an object)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from cpo_mock.app import create_app
from tests.cpo_mock.conftest import cpo_settings

TOKEN = {"Authorization": "Bearer ct"}
JSON = {"Content-Type": "application/json"}
FAULT = "/control/evses/LOC1/DC1/fault"


@pytest.fixture
async def control(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A CPO on its own (no hub), its control API behind a bearer token."""
    app = create_app(cpo_settings(tmp_path, None, hub=None, control_token="ct"))
    await app.state.cpo.start(register_now=False)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://cpo.test") as client:
            yield client
    finally:
        await app.state.cpo.stop()


async def stack_unavailable(scope: Scope, receive: Receive, send: Send) -> None:
    await JSONResponse({"error": "the app's stack"}, status_code=503)(scope, receive, send)


async def test_evse_actions_are_served_ahead_of_the_app_stack(tmp_path: Path) -> None:
    app = create_app(cpo_settings(tmp_path, None, hub=None))
    await app.state.cpo.start(register_now=False)
    app.middleware_stack = stack_unavailable  # FastAPI's stack, router and routes
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://cpo.test") as client:
            fault = await client.post(FAULT, json={"kind": "INOPERATIVE"}, headers=TOKEN)
            repair = await client.post("/control/evses/LOC1/DC1/repair")
            state = await client.get("/control/state")
    finally:
        await app.state.cpo.stop()
    assert fault.status_code == 200 and fault.json()["status"] == "INOPERATIVE"
    assert repair.status_code == 200 and repair.json()["status"] == "AVAILABLE"
    assert "x-request-id" in fault.headers
    assert state.status_code == 503  # the other calls still go through the stack


@pytest.mark.parametrize("action", ["plug", "unplug", "swipe", "fault", "repair", "remove"])
async def test_every_evse_action_needs_the_token(control: httpx.AsyncClient, action: str) -> None:
    answer = await control.post(
        f"/control/evses/LOC1/DC1/{action}", json={}, headers={"Authorization": "Bearer x"}
    )
    assert answer.status_code == 401
    assert answer.json() == {"error": "the control API needs Authorization: Bearer <control_token>"}


@pytest.mark.parametrize(
    ("body", "headers", "http_status", "ocpi_status", "message"),
    [
        (None, {}, 200, 2001, "Invalid or missing parameters: body: required field is missing"),
        (b"[]", JSON, 200, 2001, "Invalid or missing parameters: body: Input should be a valid "
         "dictionary"),
        (b"null", JSON, 200, 2001, "Invalid or missing parameters: body: Input should be a "
         "valid dictionary"),
        (b'{"kind": "OUTOFORDER"}', {"Content-Type": "text/plain"}, 400, 2000,
         "the request body must be JSON sent with Content-Type: application/json"),
        (b'{"kind": "OUTOFORDER"}', {}, 400, 2000,
         "the request body must be JSON sent with Content-Type: application/json"),
        (b"{x", JSON, 400, 2000, "the body is not valid JSON: Expecting property name enclosed "
         "in double quotes: line 1 column 2 (char 1)"),
    ],
)  # fmt: skip
async def test_a_body_that_is_not_a_json_object_is_refused_as_before(
    control: httpx.AsyncClient,
    body: bytes | None,
    headers: dict[str, str],
    http_status: int,
    ocpi_status: int,
    message: str,
) -> None:
    """The answers FastAPI gave for a required `Body()` dict (an OCPI envelope, for the body
    guard's and FastAPI's validation errors alike); a route without a body ignores one."""
    answer = await control.post(FAULT, content=body, headers={**TOKEN, **headers})
    assert answer.status_code == http_status
    assert answer.json()["status_code"] == ocpi_status
    assert answer.json()["status_message"] == message
    ignored = await control.post(
        "/control/evses/LOC1/DC1/unplug", content=b"[]", headers={**TOKEN, **JSON}
    )
    assert ignored.status_code == 409  # nothing plugged: the body was not looked at


async def test_an_unknown_fault_kind_and_an_unknown_evse_are_control_errors(
    control: httpx.AsyncClient,
) -> None:
    kind = await control.post(FAULT, json={"kind": "BROKEN"}, headers=TOKEN)
    assert kind.status_code == 400 and "unknown fault kind" in kind.json()["error"]
    where = await control.post("/control/evses/NOPE/X/fault", json={}, headers=TOKEN)
    assert where.status_code == 404
    assert where.json() == {"error": "location NOPE is not known here"}
    wrong_method = await control.get(FAULT, headers=TOKEN)
    assert wrong_method.status_code == 405  # the router answers what the route does not take
