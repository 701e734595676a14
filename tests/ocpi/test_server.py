"""Malformed-request behaviour every service gets from ocpi.server, through a real FastAPI app.

No `from __future__ import annotations` here: FastAPI must resolve the local `Caller` alias.
"""

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request

from ocpi.envelope import encode_list_envelope
from ocpi.errors import InvalidParameters, NotFound
from ocpi.headers import RoutingHeaders, encode_authorization
from ocpi.pagination import PageRequest
from ocpi.server import (
    TokenAuth,
    ocpi_app,
    ocpi_response,
    page_request,
    paginated_response,
    routing_headers,
)
from ocpi.server.responses import OcpiResponse
from ocpi.v221.locations import Location

TOKENS = {"good-token": "platform-a"}


def build_app() -> FastAPI:
    async def lookup(token: str) -> str | None:
        return TOKENS.get(token)

    auth = TokenAuth(lookup)
    Caller = Annotated[str, Depends(auth)]  # noqa: N806 - a type alias
    store: dict[str, Location] = {}
    router = APIRouter()

    @router.put("/locations/{country_code}/{party_id}/{location_id}")
    async def put_location(
        caller: Caller, country_code: str, party_id: str, location_id: str, location: Location
    ) -> OcpiResponse:
        if location.id != location_id:
            raise InvalidParameters("location_id in the URL differs from id in the body")
        created = location_id not in store
        store[location_id] = location
        return ocpi_response(http_status=201 if created else 200)

    @router.get("/locations/{country_code}/{party_id}/{location_id}")
    async def get_location(caller: Caller, location_id: str) -> OcpiResponse:
        if location_id not in store:
            raise NotFound(f"location {location_id} is not known")
        return ocpi_response(store[location_id])

    @router.get("/locations")
    async def list_locations(
        caller: Caller, request: Request, page: Annotated[PageRequest, Depends(page_request)]
    ) -> OcpiResponse:
        ordered = sorted(store.values(), key=lambda loc: (loc.last_updated, loc.id))
        return paginated_response(
            request, ordered, page, max_limit=2, last_updated=lambda loc: loc.last_updated
        )

    @router.get("/routed")
    async def routed(
        caller: Caller, routing: Annotated[RoutingHeaders, Depends(routing_headers)]
    ) -> OcpiResponse:
        return ocpi_response({"to": str(routing.to), "from": str(routing.from_)})

    @router.get("/boom")
    async def boom(caller: Caller) -> OcpiResponse:
        raise RuntimeError("secret internals")

    app = ocpi_app("test")
    app.include_router(router)
    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://test",
        headers={"Authorization": encode_authorization("good-token")},
    ) as http:
        yield http


@pytest.fixture
def location(examples_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((examples_dir / "location_example.json").read_text())
    return data


def _url(loc: dict[str, Any]) -> str:
    return f"/locations/{loc['country_code']}/{loc['party_id']}/{loc['id']}"


def _assert_envelope(response: httpx.Response, status_code: int) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert body["status_code"] == status_code, body
    assert body["timestamp"].endswith("Z")
    assert "detail" not in body  # never FastAPI's default error body
    return body


async def test_valid_put_then_get_round_trips(
    client: httpx.AsyncClient, location: dict[str, Any]
) -> None:
    response = await client.put(_url(location), json=location)
    assert response.status_code == 201
    _assert_envelope(response, 1000)
    again = await client.put(_url(location), json=location)
    assert again.status_code == 200
    got = await client.get(_url(location))
    assert _assert_envelope(got, 1000)["data"]["id"] == location["id"]


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "missing"),
        ({"Authorization": encode_authorization("wrong-token")}, "not known"),
        ({"Authorization": "Token good-token"}, "not the Base64"),
        ({"Authorization": "Basic Zm9vOmJhcg=="}, "must be 'Token"),
    ],
)
async def test_missing_unknown_or_raw_token_gets_401_envelope(
    client: httpx.AsyncClient, headers: dict[str, str], message: str
) -> None:
    client.headers.pop("Authorization")
    response = await client.get("/locations", headers=headers)
    assert response.status_code == 401
    assert message in _assert_envelope(response, 2000)["status_message"]


async def test_body_that_is_not_json_gets_400(
    client: httpx.AsyncClient, location: dict[str, Any]
) -> None:
    response = await client.put(
        _url(location), content=b'{"id": "LOC1",', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "not valid JSON" in _assert_envelope(response, 2000)["status_message"]


async def test_json_sent_as_text_plain_gets_400_naming_content_type(
    client: httpx.AsyncClient, location: dict[str, Any]
) -> None:
    response = await client.put(
        _url(location), content=json.dumps(location), headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 400
    assert "Content-Type" in _assert_envelope(response, 2000)["status_message"]


def _without(data: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != key}


@pytest.mark.parametrize(
    ("mutate", "field", "reason"),
    [
        (lambda loc: _without(loc, "city"), "city", "required field is missing"),
        (lambda loc: {**loc, "country": "NLDX"}, "country", "at most 3 characters"),
        (lambda loc: {**loc, "parking_type": "ON_THE_MOON"}, "parking_type", "ON_STREET"),
        (
            lambda loc: {**loc, "last_updated": "2015-06-29T20:39:09+02:00"},
            "last_updated",
            "numeric offset is not allowed",
        ),
        (
            lambda loc: {**loc, "evses": [{**loc["evses"][0], "connectors": [{"id": "1"}]}]},
            "evses[0].connectors[0].standard",
            "required field is missing",
        ),
        (lambda loc: {**loc, "id": "x" * 37}, "id", "at most 36 characters"),
        (lambda loc: {**loc, "party_id": "CP\u00c9"}, "party_id", "printable ASCII"),
        (lambda loc: {**loc, "publish": "yes"}, "publish", "boolean"),
    ],
)
async def test_invalid_json_gets_2001_naming_the_field(
    client: httpx.AsyncClient, location: dict[str, Any], mutate: Any, field: str, reason: str
) -> None:
    response = await client.put(_url(location), json=mutate(location))
    assert response.status_code == 200
    message = _assert_envelope(response, 2001)["status_message"]
    assert f"body {field}:" in message
    assert reason in message


async def test_id_mismatch_gets_2001(client: httpx.AsyncClient, location: dict[str, Any]) -> None:
    response = await client.put(_url({**location, "id": "OTHER"}), json=location)
    assert "differs" in _assert_envelope(response, 2001)["status_message"]


async def test_unknown_object_gets_404_envelope(client: httpx.AsyncClient) -> None:
    response = await client.get("/locations/NL/TNM/NOPE")
    assert response.status_code == 404
    assert "NOPE" in _assert_envelope(response, 2000)["status_message"]


async def test_unknown_url_and_wrong_method_get_envelopes(client: httpx.AsyncClient) -> None:
    missing = await client.get("/no/such/module")
    assert missing.status_code == 404
    assert "no such OCPI endpoint" in _assert_envelope(missing, 2000)["status_message"]
    wrong = await client.delete("/locations")
    assert wrong.status_code == 405
    _assert_envelope(wrong, 2000)


async def test_bad_query_parameter_gets_2001(client: httpx.AsyncClient) -> None:
    response = await client.get("/locations", params={"limit": "-5"})
    assert "limit must be at least 1" in _assert_envelope(response, 2001)["status_message"]


async def test_bad_routing_header_gets_2001(client: httpx.AsyncClient) -> None:
    response = await client.get("/routed", headers={"OCPI-to-country-code": "NL"})
    assert "OCPI-to-party-id" in _assert_envelope(response, 2001)["status_message"]
    ok = await client.get(
        "/routed",
        headers={
            "OCPI-to-country-code": "nl",
            "OCPI-to-party-id": "hub",
            "OCPI-from-country-code": "DE",
            "OCPI-from-party-id": "CPB",
        },
    )
    assert _assert_envelope(ok, 1000)["data"] == {"to": "NL/HUB", "from": "DE/CPB"}


async def test_unexpected_error_gets_3000_without_a_stack_trace(client: httpx.AsyncClient) -> None:
    response = await client.get("/boom", headers={"X-Request-ID": "r-1"})
    assert response.status_code == 500
    body = _assert_envelope(response, 3000)
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text
    assert body["status_message"] == "internal error while handling GET /boom"
    assert response.headers["X-Request-ID"] == "r-1"


@pytest.mark.parametrize("path", ["/locations", "/no/such/module", "/boom"])
async def test_every_response_echoes_request_and_correlation_ids(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(
        path, headers={"X-Request-ID": "req-9", "X-Correlation-ID": "cor-9"}
    )
    assert response.headers["X-Request-ID"] == "req-9"
    assert response.headers["X-Correlation-ID"] == "cor-9"


async def test_missing_ids_are_generated_for_the_response(client: httpx.AsyncClient) -> None:
    response = await client.get("/locations")
    assert response.headers["X-Request-ID"]
    assert response.headers["X-Correlation-ID"] == response.headers["X-Request-ID"]


async def test_list_is_paginated_with_headers(
    client: httpx.AsyncClient, location: dict[str, Any]
) -> None:
    for i in range(5):
        loc = {**location, "id": f"L{i}", "last_updated": f"2024-01-01T00:00:0{i}Z"}
        await client.put(_url(loc), json=loc)
    first = await client.get("/locations", params={"date_from": "2024-01-01T00:00:01Z"})
    assert [loc["id"] for loc in _assert_envelope(first, 1000)["data"]] == ["L1", "L2"]
    assert first.headers["X-Total-Count"] == "4"
    assert first.headers["X-Limit"] == "2"
    link = first.headers["Link"]
    assert "date_from=2024-01-01T00%3A00%3A01Z" in link
    assert 'rel="next"' in link


def test_a_list_envelope_splices_json_texts_as_they_are() -> None:
    """The hub keeps its copies as JSON text and answers GET-all without re-encoding them:
    the envelope must read back as the same objects, in order, with status 1000."""
    texts = ['{"id":"A","name":"M\\u00fcnchen"}', '{"id":"B","evses":[{"uid":"1"}]}']
    stamp = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    decoded = json.loads(encode_list_envelope(texts, stamp))
    assert decoded == {
        "data": [{"id": "A", "name": "München"}, {"id": "B", "evses": [{"uid": "1"}]}],
        "status_code": 1000,
        "timestamp": "2026-12-06T12:00:00Z",
    }
    assert json.loads(encode_list_envelope([]))["data"] == []
