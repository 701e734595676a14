"""FastAPI dependencies that read OCPI request inputs and answer 2001 when they are malformed."""

from __future__ import annotations

from starlette.requests import Request

from ocpi.errors import InvalidParameters
from ocpi.headers import RoutingHeaders
from ocpi.pagination import PageRequest


def page_request(request: Request) -> PageRequest:
    """offset / limit / date_from / date_to from the query string (spec "Pagination")."""
    try:
        return PageRequest.parse(request.query_params)
    except ValueError as exc:
        raise InvalidParameters(str(exc)) from None


def routing_headers(request: Request) -> RoutingHeaders:
    """The OCPI-to/from headers of a functional-module request (either pair may be absent)."""
    try:
        return RoutingHeaders.parse(request.headers)
    except ValueError as exc:
        raise InvalidParameters(str(exc)) from None


def request_ids(request: Request) -> tuple[str, str]:
    """(X-Request-ID, X-Correlation-ID) of this request, as OcpiHeadersMiddleware saw them."""
    ids: tuple[str, str] = request.scope["state"]["ocpi_ids"]
    return ids
