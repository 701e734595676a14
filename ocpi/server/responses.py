"""Envelope responses for FastAPI endpoints."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from ocpi.envelope import encode_envelope
from ocpi.pagination import PageRequest, page_headers, paginate
from ocpi.status import OcpiStatus

T = TypeVar("T")


class OcpiResponse(Response):
    """A response whose body is already an encoded OCPI envelope."""

    media_type = "application/json"


def ocpi_response(
    data: Any = None,
    *,
    status_code: int = OcpiStatus.SUCCESS,
    status_message: str | None = None,
    http_status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> OcpiResponse:
    """Wrap `data` (wire models, lists, dicts, strings or None) in an envelope."""
    return OcpiResponse(
        content=encode_envelope(data, status_code, status_message),
        status_code=http_status,
        headers=dict(headers) if headers else None,
    )


def paginated_response(
    request: Request,
    items: Sequence[T],
    page: PageRequest,
    *,
    max_limit: int,
    last_updated: Callable[[T], datetime],
    headers: Mapping[str, str] | None = None,
) -> OcpiResponse:
    """One page of `items` (already in stable order) with X-Total-Count, X-Limit and Link."""
    cut = paginate(items, page, max_limit=max_limit, last_updated=last_updated)
    out = page_headers(cut, str(request.url))
    if headers:
        out.update(headers)
    return ocpi_response(cut.items, headers=out)
