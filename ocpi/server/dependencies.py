"""FastAPI dependencies that read OCPI request inputs and answer 2001 when they are malformed."""

from __future__ import annotations

import email.message
from typing import Annotated, Any

from fastapi import Depends
from fastapi.exceptions import RequestValidationError
from starlette.requests import Request

from ocpi.errors import InvalidParameters, OcpiError
from ocpi.headers import RoutingHeaders
from ocpi.pagination import PageRequest
from ocpi.server.body_guard import STATE_KEY

# The dependencies are `async def`: FastAPI runs a plain `def` dependency in its thread pool,
# a thread hop per request (seen in a profile of the mock eMSP receiving a sync: 7 % of its
# CPU in run_in_threadpool).


async def guarded_body(request: Request) -> Any:
    """The request's JSON body as `JsonBodyGuard` already parsed it (strictly, once): None
    for an empty body; the guard's refusal raised on a path where it deferred it. (FastAPI's
    `Body()` would parse the body a second time.)"""
    outcome = request.scope.get("state", {}).get(STATE_KEY)
    if outcome is None:
        return None
    if isinstance(outcome, OcpiError):
        raise outcome
    return outcome[1]


JsonBody = Annotated[Any, Depends(guarded_body)]
"""A route's JSON body (what `JsonBodyGuard` parsed)."""


def _json_content_type(value: str | None) -> bool:
    """FastAPI's test of a body's Content-Type: application/json or application/*+json."""
    if not value:
        return False
    message = email.message.Message()
    message["content-type"] = value
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


async def json_object_body(request: Request) -> dict[str, Any]:
    """The request's JSON object body as a plain route's `body`, answered as FastAPI answers
    a required `Annotated[dict[str, Any], Body()]` (the same errors, so the same envelopes):
    missing, not sent as JSON (Content-Type) or not an object."""
    outcome = request.scope.get("state", {}).get(STATE_KEY)
    if isinstance(outcome, OcpiError):
        raise outcome
    raw, parsed = outcome if outcome is not None else (b"", None)
    if not raw:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    if not _json_content_type(request.headers.get("content-type")):
        parsed = raw  # FastAPI then validates the bytes: _validation_error's 400
    if not isinstance(parsed, dict):
        raise RequestValidationError(
            [
                {
                    "type": "dict_type",
                    "loc": ("body",),
                    "msg": "Input should be a valid dictionary",
                    "input": parsed,
                }
            ]
        )
    return parsed


def parse_page_request(request: Request) -> PageRequest:
    """offset / limit / date_from / date_to from the query string (spec "Pagination")."""
    try:
        return PageRequest.parse(request.query_params)
    except ValueError as exc:
        raise InvalidParameters(str(exc)) from None


async def page_request(request: Request) -> PageRequest:
    """The dependency form of `parse_page_request`."""
    return parse_page_request(request)


def parse_routing_headers(request: Request) -> RoutingHeaders:
    """The OCPI-to/from headers of a functional-module request (either pair may be absent)."""
    try:
        return RoutingHeaders.parse(request.headers)
    except ValueError as exc:
        raise InvalidParameters(str(exc)) from None


async def routing_headers(request: Request) -> RoutingHeaders:
    """The dependency form of `parse_routing_headers`."""
    return parse_routing_headers(request)


async def request_ids(request: Request) -> tuple[str, str]:
    """(X-Request-ID, X-Correlation-ID) of this request, as OcpiHeadersMiddleware saw them."""
    ids: tuple[str, str] = request.scope["state"]["ocpi_ids"]
    return ids
