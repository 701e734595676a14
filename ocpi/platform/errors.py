"""The one error of a member's own operations API (the CPO's control API, the eMSP's app API).

Those APIs are not OCPI: they answer `{"error": message}` with an HTTP status, never an OCPI
envelope. A service raises `OperationError`; `operation_error_response` renders it (install it
with `app.add_exception_handler(OperationError, operation_error_response)`).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ocpi.errors import OcpiError
from ocpi.platform.registration import Registration


class OperationError(Exception):
    """A control/app request that cannot be carried out; `http_status` says how bad
    (409 by default: the request is fine, the state does not allow it)."""

    def __init__(self, message: str, http_status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status


async def operation_error_response(request: Request, exc: Exception) -> Response:
    """Starlette exception handler: `{"error": message}` with the error's HTTP status."""
    assert isinstance(exc, OperationError)
    return JSONResponse({"error": exc.message}, status_code=exc.http_status)


def bearer_guard(
    expected: Callable[[], str | None], api: str, setting: str
) -> Callable[[Request], Awaitable[None]]:
    """A dependency: the request needs `Authorization: Bearer <token>` when `expected()` gives
    a token (None: the API is open; bind the platform to loopback then). 401 otherwise."""

    async def authorized(request: Request) -> None:
        token = expected()
        if token is None:
            return
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given, f"Bearer {token}"):
            raise OperationError(f"the {api} needs Authorization: Bearer <{setting}>", 401)

    return authorized


class Registrable(Protocol):
    """A member service that can run the member-initiated handshake on request."""

    @property
    def registration(self) -> Registration: ...

    async def register(self) -> object: ...


async def register_on_request(service: Registrable) -> None:
    """The control/app API's "register now": 409 when already registered, 502 when the hub
    (or the configuration naming it) refused the handshake."""
    if service.registration.is_registered:
        raise OperationError("already registered with the hub")
    try:
        await service.register()
    except (OcpiError, ValueError) as exc:
        raise OperationError(f"registration failed: {exc}", 502) from None
