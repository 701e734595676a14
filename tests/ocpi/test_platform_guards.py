"""The member kit's small shared pieces: the operations API's bearer guard, "register now",
the addressed-to check of functional routes, and the key/value table every service keeps its
small facts in (SQLite and PostgreSQL)."""

from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from sqlalchemy import Column, MetaData, String, Table, Text

from ocpi.headers import PartyRef, RoutingHeaders
from ocpi.persistence import KeyValueTable, make_engine
from ocpi.platform import (
    OperationError,
    addressed_to,
    bearer_guard,
    operation_error_response,
    register_on_request,
)
from ocpi.server import ocpi_app, ocpi_response
from ocpi.server.responses import OcpiResponse

HERE = PartyRef("DE", "CPB")


def _app(token: list[str | None]) -> FastAPI:
    app = ocpi_app("guarded member")
    app.add_exception_handler(OperationError, operation_error_response)
    ops = APIRouter(dependencies=[Depends(bearer_guard(lambda: token[0], "control API", "ct"))])

    @ops.get("/control/state")
    async def state() -> OcpiResponse:
        return ocpi_response({"ok": True})

    @app.get("/ocpi/thing")
    async def thing(
        routing: Annotated[RoutingHeaders, Depends(addressed_to(HERE))],
    ) -> OcpiResponse:
        return ocpi_response({"to": str(routing.to)})

    app.include_router(ops)
    return app


async def _get(app: FastAPI, path: str, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://m") as client:
        return await client.get(path, headers=headers)


async def test_the_operations_api_needs_the_bearer_token_only_when_one_is_set() -> None:
    token: list[str | None] = [None]
    app = _app(token)
    assert (await _get(app, "/control/state")).status_code == 200  # open: loopback use
    token[0] = "s3cret"
    refused = await _get(app, "/control/state")
    assert refused.status_code == 401
    assert refused.json() == {"error": "the control API needs Authorization: Bearer <ct>"}
    wrong = await _get(app, "/control/state", Authorization="Bearer guess")
    assert wrong.status_code == 401
    right = await _get(app, "/control/state", Authorization="Bearer s3cret")
    assert right.status_code == 200


async def test_a_functional_request_for_another_party_is_2001() -> None:
    app = _app([None])
    ours = await _get(
        app, "/ocpi/thing", **{"OCPI-to-country-code": "DE", "OCPI-to-party-id": "CPB"}
    )
    assert ours.json()["status_code"] == 1000
    theirs = await _get(
        app, "/ocpi/thing", **{"OCPI-to-country-code": "NL", "OCPI-to-party-id": "EMA"}
    )
    assert theirs.json()["status_code"] == 2001
    assert "hosts DE/CPB, but the request is addressed to NL/EMA" in theirs.json()["status_message"]


class _Service:
    def __init__(self, fail: Exception | None = None) -> None:
        self.fail = fail
        self.calls = 0
        self.hubs: list[tuple[str, str] | None] = []
        self.registration = self

    @property
    def is_registered(self) -> bool:
        return self.calls > 0 and self.fail is None

    async def register(self, hub: tuple[str, str] | None = None) -> Any:
        self.calls += 1
        self.hubs.append(hub)
        if self.fail is not None:
            raise self.fail


async def test_register_on_request_is_409_once_registered_and_502_when_the_hub_refuses() -> None:
    service = _Service()
    await register_on_request(service)  # type: ignore[arg-type]
    with pytest.raises(OperationError) as again:
        await register_on_request(service)  # type: ignore[arg-type]
    assert again.value.http_status == 409
    refused = _Service(ValueError("no hub configured"))
    with pytest.raises(OperationError, match="registration failed: no hub configured") as caught:
        await register_on_request(refused)  # type: ignore[arg-type]
    assert caught.value.http_status == 502


async def test_register_on_request_takes_the_hub_a_body_names() -> None:
    """`{"versions_url", "token_a"}` registers with that hub (a new invitation, e.g. the
    conformance suite's after its DELETE); anything else in the body is 400, not a call."""
    service = _Service()
    body = {"versions_url": "http://suite.test/ocpi/versions", "token_a": "A2"}
    await register_on_request(service, body)  # type: ignore[arg-type]
    assert service.hubs == [("http://suite.test/ocpi/versions", "A2")]
    for bad in ({"versions_url": "http://x"}, {"versions_url": 1, "token_a": "A"}, [1], "x"):
        fresh = _Service()
        with pytest.raises(OperationError, match="versions_url") as caught:
            await register_on_request(fresh, bad)  # type: ignore[arg-type]
        assert caught.value.http_status == 400 and fresh.calls == 0


def test_the_key_value_table_writes_deletes_and_survives_reopening(database_url: str) -> None:
    metadata = MetaData()
    table = Table(
        "facts",
        metadata,
        Column("key", String(64), primary_key=True),
        Column("value", Text, nullable=False),
    )
    engine = make_engine(database_url, metadata)
    facts = KeyValueTable(engine, table)
    assert facts.get("clock") is None
    facts.set({"clock": "2025-01-01T00:00:00Z", "peer": "{}"})
    facts.set({"clock": "2025-01-01T00:01:00Z", "peer": None})
    engine.dispose()
    reopened = KeyValueTable(make_engine(database_url, metadata), table)
    assert reopened.get("clock") == "2025-01-01T00:01:00Z"
    assert reopened.get("peer") is None
    reopened.engine.dispose()
